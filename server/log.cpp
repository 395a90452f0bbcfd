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

std::string now_utc() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

// A value other than a string as text: an array's elements joined with commas, anything else as
// JSON (booleans and integers without nlohmann's serializer: they are in every decision line).
std::string text_of(const Json& v) {
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_unsigned()) return std::to_string(v.get<std::uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
  if (!v.is_array()) return to_json_text(v);
  std::string s;
  for (const Json& e : v) {
    if (!s.empty()) s += ',';
    s += e.is_string() ? e.get_ref<const std::string&>() : to_json_text(e);
  }
  return s;
}

// A value in a text line: bare when it is a plain word, quoted otherwise; control characters
// never reach the terminal.
void append_text(std::string& out, const Json& v) {
  std::string owned;
  std::string_view s;
  if (v.is_string()) {
    s = v.get_ref<const std::string&>();
  } else {
    owned = text_of(v);
    s = owned;
  }
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

void event(spdlog::level::level_enum level, std::string_view msg, const Json& fields) {
  auto logger = spdlog::default_logger_raw();
  if (logger == nullptr || !logger->should_log(level)) return;
  std::string line;
  if (g_format.load() == Format::Json) {
    auto lv = spdlog::level::to_string_view(level);
    bool reserved =
        fields.is_object() && (fields.contains("time") || fields.contains("level") || fields.contains("msg"));
    if (reserved) {
      // A field named like one of the line's own keys takes its place, as in a JSON object.
      Json j = Json::object();
      j["time"] = now_utc();
      j["level"] = std::string(lv.data(), lv.size());
      j["msg"] = std::string(msg);
      for (auto it = fields.begin(); it != fields.end(); ++it) j[it.key()] = it.value();
      line = to_json_text(j);
    } else {
      // The same line, written field by field instead of copied into a new object first.
      line.reserve(256);
      line += "{\"time\":\"";
      line += now_utc();
      line += "\",\"level\":\"";
      line.append(lv.data(), lv.size());
      line += "\",\"msg\":";
      append_json_string(line, msg);
      if (fields.is_object()) {
        for (auto it = fields.begin(); it != fields.end(); ++it) {
          line += ',';
          append_json_string(line, it.key());
          line += ':';
          append_json(line, it.value());
        }
      }
      line += '}';
    }
  } else {
    line = std::string(msg);
    if (fields.is_object()) {
      for (auto it = fields.begin(); it != fields.end(); ++it) {
        line += ' ';
        line += it.key();
        line += '=';
        append_text(line, it.value());
      }
    }
  }
  logger->log(level, "{}", line);
}

}  // namespace ray_admission::server::log
