// The server's log (server/log.h): lines written at once, or kept by a thread's Batch and
// written together, always whole.
#include "server/log.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>
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
