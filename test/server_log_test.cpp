// The server's log (server/log.h): lines written at once, or kept by a thread's Batch and
// written together, always whole.
#include "server/log.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

using namespace ray_admission;
namespace slog = ray_admission::server::log;

namespace {

// Points fd 2 at a file (or at a pipe drained by a thread) while it lives.
class StderrCapture {
 public:
  explicit StderrCapture(bool pipe) {
    saved_ = ::dup(STDERR_FILENO);
    if (pipe) {
      int fds[2];
      REQUIRE(::pipe(fds) == 0);
      read_fd_ = fds[0];
      REQUIRE(::dup2(fds[1], STDERR_FILENO) == STDERR_FILENO);
      ::close(fds[1]);
      reader_ = std::thread([this] {
        char buf[4096];
        for (ssize_t n; (n = ::read(read_fd_, buf, sizeof buf)) > 0;) piped_.append(buf, static_cast<std::size_t>(n));
      });
    } else {
      char path[] = "/tmp/ray-admission-log-test-XXXXXX";
      read_fd_ = ::mkstemp(path);
      REQUIRE(read_fd_ >= 0);
      ::unlink(path);
      REQUIRE(::dup2(read_fd_, STDERR_FILENO) == STDERR_FILENO);
    }
  }
  ~StderrCapture() { finish(); }
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;

  // What has been written so far (for a pipe: everything, once finish() has run).
  std::string text() {
    if (reader_.joinable() || !piped_.empty()) return piped_;
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::pread(read_fd_, buf, sizeof buf, static_cast<off_t>(out.size()))) > 0;) {
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

  // Restores fd 2; for a pipe, reads to its end.
  void finish() {
    if (saved_ < 0) return;
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    saved_ = -1;
    if (reader_.joinable()) reader_.join();
  }

 private:
  int saved_ = -1;
  int read_fd_ = -1;
  std::thread reader_;
  std::string piped_;
};

std::vector<Json> lines_of(const std::string& text) {
  std::vector<Json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(Json::parse(line));
  return out;
}

void json_lines_at_info() {
  std::string error;
  REQUIRE(slog::setup(slog::Format::Json, "info", error));
}

}  // namespace

TEST_CASE("log: a line is written at once, or, in a batch, at flush() and at the batch's end") {
  json_lines_at_info();
  StderrCapture capture(false);
  slog::info("first");
  CHECK(lines_of(capture.text()).size() == 1);
  {
    slog::Batch batch;
    slog::info("second", {{"n", 2}});
    slog::warn("third");
    CHECK(lines_of(capture.text()).size() == 1);
    slog::flush();
    CHECK(lines_of(capture.text()).size() == 3);
    {
      slog::Batch inner;  // the thread already has one: this one changes nothing
      slog::info("fourth");
    }
    CHECK(lines_of(capture.text()).size() == 3);
    slog::info("fifth");
  }
  auto lines = lines_of(capture.text());
  REQUIRE(lines.size() == 5);
  const char* expected[] = {"first", "second", "third", "fourth", "fifth"};
  for (std::size_t i = 0; i < lines.size(); ++i) CHECK(lines[i]["msg"] == expected[i]);
  CHECK(lines[1]["n"] == 2);
  CHECK(lines[2]["level"] == "warning");
  slog::flush();  // no batch: nothing to do
  CHECK(lines_of(capture.text()).size() == 5);
}

TEST_CASE("log: a batch is written once it holds 64 KiB, in whole lines") {
  json_lines_at_info();
  StderrCapture capture(false);
  slog::Batch batch;
  const std::string filler(1000, 'x');
  int logged = 0;
  while (capture.text().empty() && logged < 200) {
    slog::info("line", {{"i", logged++}, {"filler", filler}});
  }
  CHECK(logged > 60);  // about 1 KiB each: nothing written before 64 KiB
  CHECK(logged < 70);
  std::string text = capture.text();
  REQUIRE(!text.empty());
  CHECK(text.back() == '\n');
  CHECK(lines_of(text).size() == static_cast<std::size_t>(logged));
}

TEST_CASE("log: threads writing batches to a pipe never split or lose a line") {
  json_lines_at_info();
  StderrCapture capture(true);
  constexpr int kThreads = 4;
  constexpr int kLines = 400;
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([t] {
        slog::Batch batch;
        const std::string filler(300 + 50 * t, static_cast<char>('a' + t));
        for (int i = 0; i < kLines; ++i) {
          slog::info("line", {{"thread", t}, {"i", i}, {"filler", filler}});
          if (i % 17 == 16) slog::flush();  // batches of about 6 KiB, more than a pipe keeps together
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  capture.finish();
  auto lines = lines_of(capture.text());  // throws on a line cut by another thread's
  REQUIRE(lines.size() == static_cast<std::size_t>(kThreads * kLines));
  std::vector<int> next(kThreads, 0);
  for (const Json& line : lines) {
    int t = line["thread"].get<int>();
    CHECK(line["i"].get<int>() == next[static_cast<std::size_t>(t)]++);
    CHECK(line["filler"].get<std::string>().size() == static_cast<std::size_t>(300 + 50 * t));
  }
}

namespace {

// The fields every kind of value takes, as Fields and as the Json object a caller may pass.
slog::Fields every_kind(const std::vector<std::string_view>& list) {
  slog::Fields f;
  f.add("word", "plain-word_1.2")
      .add("spaced", std::string("a b"))
      .add("tricky", std::string_view("q\"uote=back\\slash\nnew\x01line\x7f"))
      .add("empty", "")
      .add("yes", true)
      .add("no", false)
      .add("count", std::size_t{42})
      .add("negative", -7)
      .add("ms", 0.046)
      .add("list", std::span<const std::string_view>(list));
  return f;
}

Json every_kind_json(const std::vector<std::string_view>& list) {
  Json j = {{"word", "plain-word_1.2"},
            {"spaced", "a b"},
            {"tricky", "q\"uote=back\\slash\nnew\x01line\x7f"},
            {"empty", ""},
            {"yes", true},
            {"no", false},
            {"count", 42u},
            {"negative", -7},
            {"ms", 0.046}};
  j["list"] = Json::array();
  for (std::string_view s : list) j["list"].push_back(std::string(s));
  return j;
}

// The lines of a text log without spdlog's time stamp (the first word).
std::vector<std::string> text_lines_without_time(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line.substr(line.find(' ') + 1));
  return out;
}

}  // namespace

TEST_CASE("log: Fields write what the same fields as a Json object write, in both formats") {
  for (std::vector<std::string_view> list :
       {std::vector<std::string_view>{"ray-prestop", "ray-image-version"}, std::vector<std::string_view>{}}) {
    CAPTURE(list.size());
    std::string error;
    REQUIRE(slog::setup(slog::Format::Json, "info", error));
    {
      StderrCapture capture(false);
      slog::info("decision", every_kind(list));
      slog::info("decision", every_kind_json(list));
      auto lines = lines_of(capture.text());
      REQUIRE(lines.size() == 2);
      for (Json& line : lines) line.erase("time");
      CHECK(lines[0] == lines[1]);
      CHECK(lines[0]["list"].is_array());
      CHECK(lines[0]["list"].size() == list.size());
      CHECK(lines[0]["count"] == 42);
      CHECK(lines[0]["ms"].get<double>() == doctest::Approx(0.046));
      CHECK(lines[0]["tricky"] == "q\"uote=back\\slash\nnew\x01line\x7f");
      CHECK(lines[0]["level"] == "info");
    }
    REQUIRE(slog::setup(slog::Format::Text, "info", error));
    {
      StderrCapture capture(false);
      slog::info("decision", every_kind(list));
      slog::info("decision", every_kind_json(list));
      auto lines = text_lines_without_time(capture.text());
      REQUIRE(lines.size() == 2);
      CHECK(lines[0] == lines[1]);
      std::string want =
          "info decision word=plain-word_1.2 spaced=\"a b\" tricky=\"q\\\"uote=back\\\\slash new line \"" +
          std::string(" empty=\"\" yes=true no=false count=42 negative=-7 ms=0.046 list=") +
          (list.empty() ? "\"\"" : "ray-prestop,ray-image-version");
      CHECK(lines[0] == want);
    }
  }
  std::string error;
  REQUIRE(slog::setup(slog::Format::Json, "info", error));
}

TEST_CASE("log: a JSON line's time is the time it was logged, to the millisecond, across seconds") {
  json_lines_at_info();
  auto now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  auto parse_ms = [](const std::string& t) {  // 2026-12-02T03:04:05.678Z
    REQUIRE(t.size() == 24);
    CHECK(t[10] == 'T');
    CHECK(t[23] == 'Z');
    std::tm tm{};
    tm.tm_year = std::stoi(t.substr(0, 4)) - 1900;
    tm.tm_mon = std::stoi(t.substr(5, 2)) - 1;
    tm.tm_mday = std::stoi(t.substr(8, 2));
    tm.tm_hour = std::stoi(t.substr(11, 2));
    tm.tm_min = std::stoi(t.substr(14, 2));
    tm.tm_sec = std::stoi(t.substr(17, 2));
    return static_cast<long long>(timegm(&tm)) * 1000 + std::stoi(t.substr(20, 3));
  };
  StderrCapture capture(false);
  std::vector<std::pair<long long, long long>> bounds;
  for (int i = 0; i < 3; ++i) {
    long long before = now_ms();
    slog::info("tick", slog::Fields().add("i", i));
    bounds.emplace_back(before, now_ms());
    std::this_thread::sleep_for(std::chrono::milliseconds(600));  // the next line is in another second
  }
  auto lines = lines_of(capture.text());
  REQUIRE(lines.size() == 3);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    long long at = parse_ms(lines[i]["time"].get<std::string>());
    CHECK(at >= bounds[i].first);
    CHECK(at <= bounds[i].second);
  }
}
