#include "log.h"

#include "json/write.h"

#include <spdlog/sinks/base_sink.h>

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>

namespace ray_admission::server::log {

namespace {

std::atomic<Format> g_format{Format::Text};

// Whole lines go to stderr in one write(2) each under this lock: a pipe (a container runtime's
// stderr) keeps writes of up to PIPE_BUF bytes together, but not longer ones from two threads.
std::mutex g_write_mu;

// The lines this thread has logged since its last flush(), while a Batch is alive on it.
thread_local std::string* t_batch = nullptr;

// A batch is written once it holds this much, whatever the thread is doing.
constexpr std::size_t kBatchLimit = 64u << 10;

void write_stderr(std::string_view text) {
  std::lock_guard lock(g_write_mu);
  while (!text.empty()) {
    ssize_t n = ::write(STDERR_FILENO, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere to report it: the log is where errors go
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

// spdlog's stderr sink writes and flushes each line under its own lock. This one formats under
// the sink's lock (spdlog's formatters keep state) and writes outside it: at once, or, on a
// thread with a Batch, when the thread flushes.
class StderrSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    std::string_view text(line.data(), line.size());
    if (t_batch == nullptr) return write_stderr(text);
    t_batch->append(text);
    if (t_batch->size() >= kBatchLimit) log::flush();  // not base_sink::flush(), which takes the lock held here
  }
  void flush_() override {}
};

// The time of a JSON line, as `2026-12-02T03:04:05.678Z`. The text up to the seconds is kept per
// thread and made again only when the second changes, rather than calling gmtime_r and snprintf
// for every line.
void append_now_utc(std::string& out) {
  thread_local std::time_t cached_second = -1;
  thread_local char prefix[40];
  thread_local std::size_t prefix_len = 0;
  const auto ms_since_epoch =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  const auto second = static_cast<std::time_t>(ms_since_epoch / 1000);
  const auto ms = static_cast<int>(ms_since_epoch % 1000);
  if (second != cached_second) {
    std::tm tm{};
    gmtime_r(&second, &tm);
    int n = std::snprintf(prefix, sizeof prefix, "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900, tm.tm_mon + 1,
                          tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    prefix_len = n > 0 ? std::min(static_cast<std::size_t>(n), sizeof prefix - 1) : 0;
    cached_second = second;
  }
  out.append(prefix, prefix_len);
  out += static_cast<char>('0' + ms / 100);
  out += static_cast<char>('0' + ms / 10 % 10);
  out += static_cast<char>('0' + ms % 10);
  out += 'Z';
}

// A value in a text line: bare when it is a plain word, quoted otherwise; control characters
// never reach the terminal.
void append_text(std::string& out, std::string_view s) {
  bool plain = !s.empty();
  for (char c : s) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) plain = false;
  }
  if (plain) {
    out += s;
    return;
  }
  out += '"';
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += ' ';
    } else {
      out += c;
    }
  }
  out += '"';
}

// An array as one text value: its elements joined with commas, strings as they are and anything
// else as JSON.
std::string joined(const Json& array) {
  std::string s;
  for (const Json& e : array) {
    if (!s.empty()) s += ',';
    s += e.is_string() ? e.get_ref<const std::string&>() : to_json_text(e);
  }
  return s;
}

}  // namespace

bool setup(Format format, std::string_view level, std::string& error) {
  auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") {
    error = "unknown log level '" + std::string(level) + "' (trace, debug, info, warn, error, off)";
    return false;
  }
  g_format.store(format);
  auto logger = spdlog::get("ray-admission");
  if (!logger) {
    logger = std::make_shared<spdlog::logger>("ray-admission", std::make_shared<StderrSink>());
    spdlog::register_logger(logger);
  }
  // JSON lines are complete as built by event(); text lines get a time and a level.
  if (format == Format::Json) {
    logger->set_pattern("%v");
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(lvl);  // no flush_on(): StderrSink writes each line (or batch) itself
  spdlog::set_default_logger(logger);
  return true;
}

Batch::Batch() {
  if (t_batch == nullptr) {
    t_batch = &lines_;
    owner_ = true;
  }
}

Batch::~Batch() {
  if (!owner_) return;
  flush();
  t_batch = nullptr;
}

void flush() {
  if (t_batch == nullptr || t_batch->empty()) return;
  write_stderr(*t_batch);
  t_batch->clear();
}

Fields::Fields() : format_(g_format.load()) { text_.reserve(256); }

void Fields::append_key(std::string_view key) {
  if (format_ == Format::Json) {
    text_ += ',';
    append_json_string(text_, key);
    text_ += ':';
  } else {
    text_ += ' ';
    text_ += key;
    text_ += '=';
  }
}

Fields& Fields::add_raw(std::string_view key, std::string_view value) {
  append_key(key);
  text_ += value;
  return *this;
}

Fields& Fields::add(std::string_view key, std::string_view value) {
  append_key(key);
  if (format_ == Format::Json) {
    append_json_string(text_, value);
  } else {
    append_text(text_, value);
  }
  return *this;
}

Fields& Fields::add(std::string_view key, bool value) { return add_raw(key, value ? "true" : "false"); }

Fields& Fields::add(std::string_view key, double value) {
  append_key(key);
  append_json(text_, Json(value));  // a number (or null) needs no quotes in a text line either
  return *this;
}

Fields& Fields::add(std::string_view key, std::span<const std::string_view> values) {
  append_key(key);
  if (format_ == Format::Json) {
    text_ += '[';
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i > 0) text_ += ',';
      append_json_string(text_, values[i]);
    }
    text_ += ']';
    return *this;
  }
  std::string s;
  for (std::string_view v : values) {
    if (!s.empty()) s += ',';
    s += v;
  }
  append_text(text_, s);
  return *this;
}

Fields& Fields::add(std::string_view key, const Json& value) {
  switch (value.type()) {
    case Json::value_t::string: return add(key, std::string_view(value.get_ref<const std::string&>()));
    case Json::value_t::boolean: return add(key, value.get<bool>());
    case Json::value_t::number_unsigned: return add(key, value.get<std::uint64_t>());
    case Json::value_t::number_integer: return add(key, value.get<std::int64_t>());
    case Json::value_t::number_float: return add(key, value.get<double>());
    default: break;
  }
  append_key(key);
  if (format_ == Format::Json) {
    append_json(text_, value);
  } else {
    append_text(text_, value.is_array() ? joined(value) : to_json_text(value));
  }
  return *this;
}

void event(spdlog::level::level_enum level, std::string_view msg, const Fields& fields) {
  auto logger = spdlog::default_logger_raw();
  if (logger == nullptr || !logger->should_log(level)) return;
  std::string line;
  if (fields.format() == Format::Json) {
    auto lv = spdlog::level::to_string_view(level);
    line.reserve(64 + msg.size() + fields.text().size());
    line += "{\"time\":\"";
    append_now_utc(line);
    line += "\",\"level\":\"";
    line.append(lv.data(), lv.size());
    line += "\",\"msg\":";
    append_json_string(line, msg);
    line += fields.text();
    line += '}';
  } else {
    line.reserve(msg.size() + fields.text().size());
    line += msg;
    line += fields.text();
  }
  logger->log(level, spdlog::string_view_t(line.data(), line.size()));
}

void event(spdlog::level::level_enum level, std::string_view msg, const Json& fields) {
  auto logger = spdlog::default_logger_raw();
  if (logger == nullptr || !logger->should_log(level)) return;
  if (g_format.load() == Format::Json && fields.is_object() &&
      (fields.contains("time") || fields.contains("level") || fields.contains("msg"))) {
    // A field named like one of the line's own keys takes its place, as in a JSON object.
    auto lv = spdlog::level::to_string_view(level);
    std::string time;
    append_now_utc(time);
    Json j = Json::object();
    j["time"] = time;
    j["level"] = std::string(lv.data(), lv.size());
    j["msg"] = std::string(msg);
    for (auto it = fields.begin(); it != fields.end(); ++it) j[it.key()] = it.value();
    logger->log(level, spdlog::string_view_t(to_json_text(j)));
    return;
  }
  Fields f;
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) f.add(it.key(), it.value());
  }
  event(level, msg, f);
}

}  // namespace ray_admission::server::log
