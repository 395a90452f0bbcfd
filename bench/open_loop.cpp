// An open-loop HTTPS load generator. It POSTs one body at a fixed rate over keep-alive TLS
// connections, and times each request from the moment it was due, not from the moment a
// connection was free to send it. A closed-loop tool such as wrk sends the next request only
// when an answer comes back, so a server that stalls also stalls the load, and the stall shows
// up in one latency instead of in all the requests that should have been sent meanwhile. Here a
// request that finds every connection busy waits in a queue, and its wait counts.
//
// The API server calls a webhook when an object is written, not in a saturating loop: this
// tool shows the latency at the rates a cluster produces, and where it starts to climb.
//
// Usage: open_loop --port P --body FILE [--host 127.0.0.1] [--path /validate] [--rate R]
//                  [--connections C] [--duration S] [--warmup S]
// Prints one line: the rate asked and the rate answered (requests/s), latency percentiles in
// milliseconds, requests sent over 1 ms late (every connection busy, or this process waiting for
// a core; their wait counts in their latency), and errors (a status other than 200,
// a closed or broken connection). The exit status is 1 when nothing was answered.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path = "/validate";
  std::string body_file;
  double rate = 1000;
  int connections = 32;
  double duration = 10;
  double warmup = 2;
};

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "open_loop: %s\n", message.c_str());
  std::exit(2);
}

std::optional<Options> parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help" || a == "-h") return std::nullopt;
    if (i + 1 >= argc) die("missing value after " + std::string(a));
    std::string v = argv[++i];
    char* end = nullptr;
    double x = std::strtod(v.c_str(), &end);
    bool number = end != v.c_str() && *end == '\0';
    if (a == "--host") {
      o.host = v;
    } else if (a == "--path") {
      o.path = v;
    } else if (a == "--body") {
      o.body_file = v;
    } else if (!number) {
      die("not a number: " + std::string(a) + " " + v);
    } else if (a == "--port") {
      o.port = static_cast<int>(x);
    } else if (a == "--rate") {
      o.rate = x;
    } else if (a == "--connections") {
      o.connections = static_cast<int>(x);
    } else if (a == "--duration") {
      o.duration = x;
    } else if (a == "--warmup") {
      o.warmup = x;
    } else {
      die("unknown option " + std::string(a));
    }
  }
  if (o.port <= 0 || o.port > 65535) die("--port is required (1-65535)");
  if (o.body_file.empty()) die("--body is required");
  if (!(o.rate > 0) || o.connections < 1 || !(o.duration > 0) || o.warmup < 0) {
    die("--rate, --connections and --duration must be positive");
  }
  return o;
}

enum class State { Handshake, Idle, Busy, Closed };

struct Conn {
  int fd = -1;
  SSL* ssl = nullptr;
  State state = State::Closed;
  bool want_write = false;     // the request is not all written yet
  Clock::time_point due;       // when the request in flight was due
  std::string in;              // response bytes received so far
  std::uint32_t interest = 0;  // what epoll watches
};

class Load {
 public:
  Load(Options o, std::string request) : o_(std::move(o)), request_(std::move(request)) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (ctx_ == nullptr) die("cannot create a TLS context");
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);  // a benchmark on loopback
    SSL_CTX_set_read_ahead(ctx_, 1);
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) die(std::string("epoll_create1: ") + std::strerror(errno));
    conns_.resize(static_cast<std::size_t>(o_.connections));
  }
  ~Load() {
    for (Conn& c : conns_) close_conn(c);
    ::close(epoll_);
    SSL_CTX_free(ctx_);
  }
  Load(const Load&) = delete;
  Load& operator=(const Load&) = delete;

  int run() {
    for (std::size_t i = 0; i < conns_.size(); ++i) open_conn(i);
    const auto interval = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / o_.rate));
    const auto start = Clock::now();
    const auto record_from =
        start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.warmup));
    const auto stop_sending =
        record_from + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.duration));
    const auto give_up = stop_sending + std::chrono::seconds(10);
    record_from_ = record_from;
    stop_sending_ = stop_sending;
    std::vector<epoll_event> events(64);
    auto next_due = start;
    for (;;) {
      auto now = Clock::now();
      while (next_due <= now && next_due < stop_sending) {
        backlog_.push_back(next_due);
        next_due += interval;
      }
      send_backlog();
      if (next_due >= stop_sending && backlog_.empty() && in_flight() == 0) break;
      if (now >= give_up) {
        std::fprintf(stderr, "open_loop: %zu requests still unanswered 10 s after the last was due\n",
                     backlog_.size() + in_flight());
        errors_ += backlog_.size() + in_flight();
        break;
      }
      timespec timeout{};
      if (next_due < stop_sending) {
        auto wait = std::max(Clock::duration::zero(), next_due - now);
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
        timeout.tv_sec = static_cast<time_t>(ns / 1000000000);
        timeout.tv_nsec = static_cast<long>(ns % 1000000000);
      } else {
        timeout.tv_nsec = 10000000;  // only answers to wait for
      }
      int n = wait(events, timeout);
      if (n < 0 && errno != EINTR) die(std::string("epoll_wait: ") + std::strerror(errno));
      for (int i = 0; i < n; ++i) on_event(events[static_cast<std::size_t>(i)].data.u32);
    }
    return report();
  }

 private:
  // epoll_pwait2 takes a timeout in nanoseconds (Linux 5.11); before it, epoll_wait's whole
  // milliseconds, rounded up, make requests up to a millisecond late.
  int wait(std::vector<epoll_event>& events, const timespec& timeout) {
    const int max = static_cast<int>(events.size());
    if (!no_pwait2_) {
      int n = epoll_pwait2(epoll_, events.data(), max, &timeout, nullptr);
      if (n >= 0 || errno != ENOSYS) return n;
      no_pwait2_ = true;
    }
    long ms = static_cast<long>(timeout.tv_sec) * 1000 + (timeout.tv_nsec + 999999) / 1000000;
    return epoll_wait(epoll_, events.data(), max, static_cast<int>(std::min(ms, 1000L)));
  }

  std::size_t in_flight() const {
    return static_cast<std::size_t>(
        std::count_if(conns_.begin(), conns_.end(), [](const Conn& c) { return c.state == State::Busy; }));
  }

  void watch(Conn& c, std::size_t index, std::uint32_t events) {
    if (c.interest == events) return;
    epoll_event ev{};
    ev.events = events;
    ev.data.u32 = static_cast<std::uint32_t>(index);
    epoll_ctl(epoll_, c.interest == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c.fd, &ev);
    c.interest = events;
  }

  void open_conn(std::size_t index) {
    Conn& c = conns_[index];
    c = Conn{};
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) die(std::string("socket: ") + std::strerror(errno));
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(o_.port));
    if (inet_pton(AF_INET, o_.host.c_str(), &addr.sin_addr) != 1) die("--host must be an IPv4 address: " + o_.host);
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
      die("cannot connect to " + o_.host + ":" + std::to_string(o_.port) + ": " + std::strerror(errno));
    }
    c.ssl = SSL_new(ctx_);
    SSL_set_fd(c.ssl, c.fd);
    SSL_set_connect_state(c.ssl);
    c.state = State::Handshake;
    watch(c, index, EPOLLIN | EPOLLOUT);
  }

  void close_conn(Conn& c) {
    if (c.ssl != nullptr) SSL_free(c.ssl);
    if (c.fd >= 0) ::close(c.fd);
    c.ssl = nullptr;
    c.fd = -1;
    c.state = State::Closed;
    c.interest = 0;
  }

  // A connection broke or was closed by the server: the request in flight failed; open another.
  void reconnect(std::size_t index, bool failed) {
    Conn& c = conns_[index];
    if (failed && c.state == State::Busy && c.due >= record_from_) ++errors_;
    close_conn(c);
    ERR_clear_error();
    if (Clock::now() < stop_sending_ + std::chrono::seconds(10)) open_conn(index);
  }

  void send_backlog() {
    for (std::size_t i = 0; i < conns_.size() && !backlog_.empty(); ++i) {
      Conn& c = conns_[i];
      if (c.state != State::Idle) continue;
      c.due = backlog_.front();
      backlog_.pop_front();
      if (Clock::now() - c.due > std::chrono::milliseconds(1) && c.due >= record_from_) ++late_;
      c.state = State::Busy;
      c.in.clear();
      c.want_write = true;
      write_request(i);
    }
  }

  void write_request(std::size_t index) {
    Conn& c = conns_[index];
    ERR_clear_error();
    int n = SSL_write(c.ssl, request_.data(), static_cast<int>(request_.size()));
    if (n > 0) {
      c.want_write = false;
      watch(c, index, EPOLLIN);
      return;
    }
    int e = SSL_get_error(c.ssl, n);
    if (e == SSL_ERROR_WANT_WRITE) return watch(c, index, EPOLLIN | EPOLLOUT);
    if (e == SSL_ERROR_WANT_READ) return watch(c, index, EPOLLIN);
    reconnect(index, true);
  }

  void on_event(std::uint32_t index) {
    Conn& c = conns_[index];
    if (c.state == State::Closed) return;
    if (c.state == State::Handshake) {
      ERR_clear_error();
      int r = SSL_do_handshake(c.ssl);
      if (r == 1) {
        c.state = State::Idle;
        watch(c, index, EPOLLIN);
        return;
      }
      int e = SSL_get_error(c.ssl, r);
      if (e == SSL_ERROR_WANT_READ) return watch(c, index, EPOLLIN);
      if (e == SSL_ERROR_WANT_WRITE) return watch(c, index, EPOLLIN | EPOLLOUT);
      die("TLS handshake with " + o_.host + ":" + std::to_string(o_.port) + " failed");
    }
    if (c.want_write) write_request(index);
    if (c.state != State::Busy && c.state != State::Idle) return;
    char buf[16384];
    for (;;) {
      ERR_clear_error();
      int n = SSL_read(c.ssl, buf, sizeof buf);
      if (n > 0) {
        c.in.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      int e = SSL_get_error(c.ssl, n);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
      // Closed or broken: after a whole answer (`Connection: close`, or the server's
      // keep-alive limit), that request succeeded.
      if (c.state == State::Busy) take_response(index);
      if (c.state != State::Closed && c.state != State::Handshake) reconnect(index, c.state == State::Busy);
      return;
    }
    if (c.state == State::Busy) take_response(index);
  }

  // A complete response in c.in ends the request in flight.
  void take_response(std::size_t index) {
    Conn& c = conns_[index];
    std::size_t head_end = c.in.find("\r\n\r\n");
    if (head_end == std::string::npos) return;
    std::string_view head(c.in.data(), head_end);
    std::size_t length = 0;
    bool close = false;
    for (std::size_t pos = head.find("\r\n"); pos != std::string_view::npos; pos = head.find("\r\n", pos + 2)) {
      std::size_t eol = head.find("\r\n", pos + 2);
      std::string line(head.substr(pos + 2, eol == std::string_view::npos ? std::string_view::npos : eol - pos - 2));
      std::transform(line.begin(), line.end(), line.begin(), [](unsigned char ch) { return std::tolower(ch); });
      if (line.rfind("content-length:", 0) == 0) length = std::strtoul(line.c_str() + 15, nullptr, 10);
      if (line.rfind("connection:", 0) == 0 && line.find("close") != std::string::npos) close = true;
    }
    if (c.in.size() < head_end + 4 + length) return;
    auto now = Clock::now();
    bool ok = head.substr(0, 12) == "HTTP/1.1 200";
    if (c.due >= record_from_) {
      if (ok) {
        latencies_.push_back(std::chrono::duration<double, std::milli>(now - c.due).count());
      } else {
        ++errors_;
      }
      last_answer_ = now;
    }
    c.state = State::Idle;
    if (close) reconnect(index, false);
  }

  int report() {
    std::sort(latencies_.begin(), latencies_.end());
    auto pct = [&](double p) {
      if (latencies_.empty()) return 0.0;
      auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(latencies_.size() - 1) + 0.5);
      return latencies_[std::min(i, latencies_.size() - 1)];
    };
    double seconds = std::chrono::duration<double>(std::max(last_answer_, stop_sending_) - record_from_).count();
    std::printf("rate %.0f done %.0f p50 %.3f p90 %.3f p99 %.3f p99.9 %.3f max %.3f late %zu errors %zu\n", o_.rate,
                static_cast<double>(latencies_.size()) / seconds, pct(50), pct(90), pct(99), pct(99.9),
                latencies_.empty() ? 0.0 : latencies_.back(), late_, errors_);
    return latencies_.empty() ? 1 : 0;
  }

  Options o_;
  std::string request_;
  SSL_CTX* ctx_ = nullptr;
  int epoll_ = -1;
  std::vector<Conn> conns_;
  std::deque<Clock::time_point> backlog_;  // requests due and not yet sent
  std::vector<double> latencies_;          // ms, of the requests due after the warm-up
  std::size_t late_ = 0;  // recorded requests sent over 1 ms after they were due (no free connection, or
                          // this process waited for a core)
  std::size_t errors_ = 0;
  bool no_pwait2_ = false;  // the kernel lacks epoll_pwait2
  Clock::time_point record_from_, stop_sending_, last_answer_;
};

}  // namespace

int main(int argc, char** argv) {
  auto o = parse_args(argc, argv);
  if (!o) {
    std::puts(
        "usage: open_loop --port P --body FILE [--host 127.0.0.1] [--path /validate] [--rate R]\n"
        "                 [--connections C] [--duration S] [--warmup S]");
    return 0;
  }
  std::ifstream f(o->body_file, std::ios::binary);
  if (!f) die("cannot read " + o->body_file);
  std::string body((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::string request = "POST " + o->path + " HTTP/1.1\r\nHost: " + o->host +
                        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                        "\r\n\r\n" + body;
  prctl(PR_SET_TIMERSLACK, 1UL);  // wake up when the next request is due, not 50 µs later
  Load load(std::move(*o), std::move(request));
  return load.run();
}
