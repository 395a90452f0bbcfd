#include "log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace ray_admission::server::log {

namespace {

std::atomic<Format> g_format{Format::Text};

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

// A value in a text line: bare when it is a plain word, quoted otherwise; control characters
// never reach the terminal.
void append_text(std::string& out, const Json& v) {
  std::string s;
  if (v.is_string()) {
    s = v.get<std::string>();
  } else if (v.is_array()) {
    for (const Json& e : v) {
      if (!s.empty()) s += ',';
      s += e.is_string() ? e.get<std::string>() : e.dump(-1, ' ', false, Json::error_handler_t::replace);
    }
  } else {
    s = v.dump(-1, ' ', false, Json::error_handler_t::replace);
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
  if (!logger) logger = spdlog::stderr_logger_mt("ray-admission");
  // JSON lines are complete as built by event(); text lines get a time and a level.
  if (format == Format::Json) {
    logger->set_pattern("%v");
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  return true;
}

void event(spdlog::level::level_enum level, std::string_view msg, const Json& fields) {
  auto logger = spdlog::default_logger_raw();
  if (logger == nullptr || !logger->should_log(level)) return;
  std::string line;
  if (g_format.load() == Format::Json) {
    Json j = Json::object();
    j["time"] = now_utc();
    j["level"] = std::string(spdlog::level::to_string_view(level).data(), spdlog::level::to_string_view(level).size());
    j["msg"] = std::string(msg);
    if (fields.is_object()) {
      for (auto it = fields.begin(); it != fields.end(); ++it) j[it.key()] = it.value();
    }
    line = j.dump(-1, ' ', false, Json::error_handler_t::replace);
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
