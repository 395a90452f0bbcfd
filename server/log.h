// The server's log: spdlog on stderr, as text (`TIME LEVEL message key=value ...`) or as JSON
// lines (`{"time":...,"level":...,"msg":...,<fields>}`). Fields are names, counts and reasons;
// callers never pass an object's contents.
#pragma once

#include "rules/types.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <concepts>
#include <span>
#include <string>
#include <string_view>

namespace ray_admission::server::log {

enum class Format { Text, Json };

// Installs the default logger. `level` is trace, debug, info, warn, error or off.
bool setup(Format format, std::string_view level, std::string& error);

// Whether a line at `level` would be written: to skip building the fields of one that would not.
inline bool enabled(spdlog::level::level_enum level) {
  auto* logger = spdlog::default_logger_raw();
  return logger != nullptr && logger->should_log(level);
}

// The fields of one line, written out as they are added: ` key=value` for text lines,
// `,"key":value` for JSON lines. The decision line is logged for every review, and building a
// Json object of its fields first, only to write them out, was a few percent of a request's CPU
// time (docs/benchmarks.md, section 29). Keys are plain names, never `time`, `level` or `msg`.
class Fields {
 public:
  Fields();
  Fields& add(std::string_view key, std::string_view value);
  Fields& add(std::string_view key, const char* value) { return add(key, std::string_view(value)); }
  Fields& add(std::string_view key, const std::string& value) { return add(key, std::string_view(value)); }
  Fields& add(std::string_view key, bool value);
  template <std::integral T>
  requires(!std::same_as<T, bool>) Fields& add(std::string_view key, T value) {
    char buf[24];
    auto end = std::to_chars(buf, buf + sizeof buf, value).ptr;
    return add_raw(key, std::string_view(buf, static_cast<std::size_t>(end - buf)));
  }
  Fields& add(std::string_view key, double value);
  // A list: an array in JSON, its elements joined with commas in text.
  Fields& add(std::string_view key, std::span<const std::string_view> values);
  // Any value: strings, numbers and booleans as above; arrays as lists; objects as JSON text.
  Fields& add(std::string_view key, const Json& value);

  Format format() const { return format_; }
  const std::string& text() const { return text_; }

 private:
  Fields& add_raw(std::string_view key, std::string_view value);  // `value` needs no quoting in either format
  void append_key(std::string_view key);

  Format format_;
  std::string text_;
};

// One line: a short message and its fields (a JSON object whose values are strings, numbers,
// booleans or arrays of strings).
void event(spdlog::level::level_enum level, std::string_view msg, const Json& fields = Json::object());
void event(spdlog::level::level_enum level, std::string_view msg, const Fields& fields);

inline void info(std::string_view msg, const Json& fields = Json::object()) { event(spdlog::level::info, msg, fields); }
inline void warn(std::string_view msg, const Json& fields = Json::object()) { event(spdlog::level::warn, msg, fields); }
inline void error(std::string_view msg, const Json& fields = Json::object()) { event(spdlog::level::err, msg, fields); }
inline void debug(std::string_view msg, const Json& fields = Json::object()) {
  event(spdlog::level::debug, msg, fields);
}
inline void info(std::string_view msg, const Fields& fields) { event(spdlog::level::info, msg, fields); }
inline void warn(std::string_view msg, const Fields& fields) { event(spdlog::level::warn, msg, fields); }
inline void error(std::string_view msg, const Fields& fields) { event(spdlog::level::err, msg, fields); }

// While a Batch is alive, the lines its thread logs are kept and written together by flush(),
// one write(2) for all of them (a write per decision line, under a lock the server's threads
// queued on, was about a tenth of the server's CPU time: docs/benchmarks.md, section 24). The
// server's threads flush before each wait for events,
// so a line is written at most one turn of the event loop after it is logged; a crash loses
// those lines. Lines are written at once when no Batch is alive, or when 64 KiB are waiting.
class Batch {
 public:
  Batch();
  ~Batch();
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;

 private:
  std::string lines_;
  bool owner_ = false;  // false when the thread already had one
};

// Writes the lines this thread's Batch holds.
void flush();

}  // namespace ray_admission::server::log
