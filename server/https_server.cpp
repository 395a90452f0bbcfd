#include "https_server.h"

#include "admission.h"
#include "framing.h"
#include "log.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <vector>

namespace ray_admission::server {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kListenId = 1;
constexpr std::uint64_t kWakeId = 2;
constexpr std::uint64_t kSignalId = 3;
constexpr std::uint64_t kFirstConnId = 16;
constexpr std::chrono::milliseconds kTick{100};
constexpr std::chrono::milliseconds kDrainTime{2000};
constexpr std::chrono::milliseconds kShutdownGraceForNew{1000};  // a new connection's first request
constexpr std::size_t kReadChunk = 16384;
constexpr std::size_t kReadBudget = 1u << 20;  // bytes read from one connection before serving others
// Requests with a larger body go to the pool instead of being answered on the event loop (a
// 256 KiB review takes about 0.5 ms; the largest allowed, 7 MiB, tens of milliseconds).
constexpr std::size_t kInlineBody = 256u << 10;

// The body of the request this worker thread is processing (see HttpsServer::current_body).
thread_local std::string_view t_current_body;

// httplib's request processing (a protected member), called on a request already in memory.
class HttpCore : public httplib::Server {
 public:
  bool process(httplib::Stream& s, bool close_connection, bool& connection_closed) {
    return process_request(s, close_connection, connection_closed, nullptr);
  }
};

// A complete request in, the response out: what httplib reads from and writes to.
class MemoryStream : public httplib::Stream {
 public:
  MemoryStream(std::string_view in, std::string& out, const std::string& remote_ip, int remote_port,
               const std::string& local_ip, int local_port)
      : in_(in),
        out_(out),
        remote_ip_(remote_ip),
        local_ip_(local_ip),
        remote_port_(remote_port),
        local_port_(local_port) {}

  bool is_readable() const override { return true; }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    size_t n = std::min(size, in_.size() - pos_);
    std::memcpy(ptr, in_.data() + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    out_.append(ptr, size);
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = remote_ip_;
    port = remote_port_;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = local_ip_;
    port = local_port_;
  }
  socket_t socket() const override { return INVALID_SOCKET; }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
  std::string& out_;
  const std::string& remote_ip_;
  const std::string& local_ip_;
  int remote_port_;
  int local_port_;
};

std::string raw_error_response(int status, std::string_view message) {
  std::string body = error_body(status, message);
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(status_reason(status)) + "\r\n";
  out += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size());
  out += "\r\nConnection: close\r\n\r\n";
  out += body;
  return out;
}

// Makes a response that httplib wrote for a kept-alive connection announce `Connection: close`.
void force_close_header(std::string& response) {
  std::size_t end = response.find("\r\n\r\n");
  if (end == std::string::npos) return;
  std::string_view head(response.data(), end);
  auto find_header = [&](std::string_view name) {
    for (std::size_t pos = head.find("\r\n"); pos != std::string_view::npos; pos = head.find("\r\n", pos + 2)) {
      std::string_view line = head.substr(pos + 2, name.size());
      if (line.size() == name.size() && std::equal(line.begin(), line.end(), name.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
          })) {
        return pos + 2;
      }
    }
    return std::string_view::npos;
  };
  if (find_header("Connection: close") != std::string_view::npos) return;
  std::size_t ka = find_header("Keep-Alive:");
  if (ka != std::string_view::npos) {
    std::size_t eol = response.find("\r\n", ka);
    response.replace(ka, eol - ka, "Connection: close");
  } else {
    response.insert(end + 2, "Connection: close\r\n");
  }
}

std::string address_of(const sockaddr_storage& ss, int& port) {
  char host[INET6_ADDRSTRLEN] = "";
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    port = ntohs(a->sin6_port);
  }
  return host;
}

std::string ssl_error_text() {
  unsigned long e = ERR_peek_last_error();
  if (e == 0) return std::strerror(errno);
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

// The bytes of a direct handler's answer, with the headers httplib would have written.
std::string direct_response(const DirectResponse& res, bool close, std::string_view keep_alive) {
  std::string_view reason = status_reason(res.status);
  std::string status = std::to_string(res.status), length = std::to_string(res.body.size());
  std::string out;
  out.reserve(128 + res.body.size());
  out.append("HTTP/1.1 ").append(status).append(" ").append(reason).append("\r\n");
  if (close) out.append("Connection: close\r\n");
  out.append("Content-Length: ").append(length).append("\r\nContent-Type: application/json\r\n");
  if (!close) out.append(keep_alive);
  out.append("\r\n").append(res.body);
  return out;
}

enum class State { Handshake, Reading, Busy, Writing, Draining };

// Who is at either end of a connection, for the handlers (httplib's remote_addr and the like).
struct Addresses {
  std::string remote_ip, local_ip;
  int remote_port = 0, local_port = 0;
};

// A connection. Whoever reads or changes it holds `mu`: the thread that epoll gave its event to,
// the sweep, or the thread that brings back an answer from the pool.
struct Conn : Addresses {
  Conn(std::uint64_t id_, int fd_, SSL* ssl_, FramingLimits limits) : id(id_), fd(fd_), ssl(ssl_), framer(limits) {}
  std::mutex mu;
  std::uint64_t id;
  int fd;
  SSL* ssl;
  bool closed = false;
  State state = State::Handshake;
  std::uint32_t interest = 0;
  bool registered = false;  // in the epoll set
  bool armed = false;       // registered and not yet reported (EPOLLONESHOT)
  Clock::time_point deadline;
  bool request_started = false;  // a byte of the current request has arrived
  std::string in;
  RequestFramer framer;
  std::string out;
  std::size_t out_off = 0;
  bool close_after_write = false;
  std::size_t served = 0;
};

struct Completion {
  std::uint64_t id;
  std::string response;
  bool close;
};

}  // namespace

// Every thread of the server runs the same loop over one epoll set (the leader/followers
// pattern): each takes the next ready connection and carries its request through (TLS, framing,
// the handler, the answer) before taking another. Every socket is registered with EPOLLONESHOT,
// so a connection is only ever in one thread's hands, and a thread that the scheduler holds back
// holds back only the connection it is on: the others go on being served by the other threads.
struct HttpsServer::Impl {
  Impl(ServerOptions o, const CertificateSource& c, Metrics& m) : opt(std::move(o)), certs(c), metrics(m) {}

  ServerOptions opt;
  const CertificateSource& certs;
  Metrics& metrics;
  HttpCore http;
  std::vector<std::pair<std::string, DirectHandler>> direct;  // HttpsServer::post_direct
  std::string keep_alive_header;  // "Keep-Alive: timeout=T, max=N\r\n", as httplib writes it

  int epoll_fd = -1;
  int wake_fd = -1;  // answers from the pool, and shutdown requests
  int signal_fd = -1;
  std::unique_ptr<httplib::TaskQueue> pool;  // requests whose body is larger than kInlineBody

  std::mutex listen_mu;  // the listening socket: accepting, pausing, closing
  int listen_fd = -1;
  bool accept_paused = false;
  Clock::time_point accept_paused_until;

  std::mutex conns_mu;  // the map, not the connections in it
  std::unordered_map<std::uint64_t, std::shared_ptr<Conn>> conns;
  std::atomic<std::uint64_t> next_id{kFirstConnId};
  std::atomic<std::size_t> open_connections{0};

  std::mutex done_mu;
  std::vector<Completion> done;

  std::mutex sweep_mu;  // one thread sweeps at a time
  std::atomic<Clock::rep> next_sweep_ticks{0};

  std::atomic<bool> stop_requested{false};
  std::atomic<bool> draining{false};  // shutdown requested (the delay may still run)
  std::atomic<bool> shutdown_begun{false};
  std::atomic<bool> timeout_logged{false};
  std::atomic<bool> stopping{false};  // no longer accepting (stop_deadline is set before)
  // Never, until the thread that sees the shutdown request first sets it: another thread must not
  // read a time already past before then.
  std::atomic<Clock::rep> drain_until_ticks{std::numeric_limits<Clock::rep>::max()};
  std::atomic<Clock::rep> stop_deadline_ticks{0};

  FramingLimits limits() const { return {opt.max_header, opt.max_body}; }
  static Clock::time_point at(Clock::rep ticks) { return Clock::time_point(Clock::duration(ticks)); }
  static Clock::rep ticks(Clock::time_point t) { return t.time_since_epoch().count(); }
  Clock::time_point stop_deadline() const { return at(stop_deadline_ticks.load()); }
  Clock::time_point capped(Clock::time_point t) const { return stopping ? std::min(t, stop_deadline()) : t; }

  void wake() {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t w = ::write(wake_fd, &one, sizeof one);
  }

  void epoll_set(int fd, std::uint64_t id, std::uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = id;
    epoll_ctl(epoll_fd, op, fd, &ev);
  }

  // One-shot interest; 0 takes the socket out of the set (a busy connection), so that a hang-up
  // does not wake a thread again and again while the pool holds the request.
  void set_interest(Conn& c, std::uint32_t events) {
    if (events == 0) {
      if (c.registered) epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c.fd, nullptr);
      c.registered = c.armed = false;
    } else if (!c.armed || events != c.interest) {
      epoll_set(c.fd, c.id, events | EPOLLONESHOT, c.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD);
      c.registered = c.armed = true;
    }
    c.interest = events;
  }

  // The connection, held, or null when it is gone.
  std::shared_ptr<Conn> find(std::uint64_t id) {
    std::lock_guard lock(conns_mu);
    auto it = conns.find(id);
    return it == conns.end() ? nullptr : it->second;
  }

  std::vector<std::shared_ptr<Conn>> snapshot() {
    std::lock_guard lock(conns_mu);
    std::vector<std::shared_ptr<Conn>> all;
    all.reserve(conns.size());
    for (auto& [id, c] : conns) all.push_back(c);
    return all;
  }

  bool no_connections() {
    std::lock_guard lock(conns_mu);
    return conns.empty();
  }

  // With c.mu held.
  void close_conn(Conn& c, std::string_view reason = {}) {
    if (c.closed) return;
    if (!reason.empty()) metrics.count_connection_closed(reason);
    if (c.registered) epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c.fd, nullptr);
    c.registered = c.armed = false;
    if (c.state != State::Draining && c.state != State::Handshake && SSL_is_init_finished(c.ssl)) {
      SSL_shutdown(c.ssl);  // best effort close_notify
    }
    ERR_clear_error();
    SSL_free(c.ssl);
    c.ssl = nullptr;
    ::close(c.fd);
    c.closed = true;
    {
      std::lock_guard lock(conns_mu);
      conns.erase(c.id);
    }
    open_connections.fetch_sub(1);
    metrics.connections_add(-1);
  }

  enum class Io { Done, WantWrite, WantRead, Closed };

  Io flush(Conn& c) {
    while (c.out_off < c.out.size()) {
      ERR_clear_error();
      int n = SSL_write(c.ssl, c.out.data() + c.out_off,
                        static_cast<int>(std::min<std::size_t>(c.out.size() - c.out_off, 1u << 30)));
      if (n > 0) {
        c.out_off += static_cast<std::size_t>(n);
        continue;
      }
      int e = SSL_get_error(c.ssl, n);
      if (e == SSL_ERROR_WANT_WRITE) return Io::WantWrite;
      if (e == SSL_ERROR_WANT_READ) return Io::WantRead;
      ERR_clear_error();
      return Io::Closed;
    }
    c.out.clear();
    c.out_off = 0;
    return Io::Done;
  }

  void refuse(Conn& c, int status, const std::string& message, std::string_view reason) {
    log::warn("refused a request",
              {{"status", status}, {"error", message}, {"remote", c.remote_ip + ":" + std::to_string(c.remote_port)}});
    metrics.count_response("transport", status);
    metrics.count_connection_closed(reason);
    c.out += raw_error_response(status, message);
    c.close_after_write = true;
    c.state = State::Writing;
    c.deadline = capped(Clock::now() + opt.write_timeout);
  }

  void start_drain(Conn& c) {
    ERR_clear_error();
    SSL_shutdown(c.ssl);
    ERR_clear_error();
    ::shutdown(c.fd, SHUT_WR);
    c.state = State::Draining;
    c.deadline = Clock::now() + kDrainTime;
    if (stopping) c.deadline = std::min(c.deadline, stop_deadline());
  }

  // Answers a complete request: through a direct handler when it is a plain POST to one of their
  // paths, through httplib's request processing otherwise. Returns the response's bytes.
  Completion process(std::uint64_t id, const std::string& request, std::size_t body_size, bool close,
                     const Addresses& c) {
    if (!direct.empty()) {
      if (auto answer = process_direct(id, request, body_size, close, c)) return std::move(*answer);
    }
    std::string out;
    bool closed = false;
    bool ok = false;
    {
      MemoryStream stream(request, out, c.remote_ip, c.remote_port, c.local_ip, c.local_port);
      t_current_body = std::string_view(request).substr(request.size() - body_size);
      try {
        ok = http.process(stream, close, closed);
      } catch (...) {
        ok = false;
      }
      t_current_body = {};
    }
    if (!ok && out.empty()) out = raw_error_response(400, "malformed HTTP request");
    return {id, std::move(out), close || closed || !ok};
  }

  std::optional<Completion> process_direct(std::uint64_t id, const std::string& request, std::size_t body_size,
                                           bool close, const Addresses& c) {
    std::string_view text(request);
    std::string_view head = text.substr(0, text.size() - body_size);
    PlainPost post;
    if (!parse_plain_post(head, post)) return std::nullopt;
    const DirectHandler* handler = nullptr;
    for (const auto& [path, h] : direct) {
      if (path == post.path) handler = &h;
    }
    if (handler == nullptr) return std::nullopt;
    close = close || post.close;
    DirectResponse res;
    try {
      (*handler)({post.path, post.content_type, text.substr(head.size()), c.remote_ip, c.remote_port}, res);
    } catch (...) {
      res.status = 500;
      res.body = error_body(500, "internal error");
    }
    return Completion{id, direct_response(res, close, keep_alive_header), close};
  }

  // The answer to the connection's request, ready to be written.
  void answer(Conn& c, Completion& d) {
    if (stopping && !d.close) {
      force_close_header(d.response);
      d.close = true;
    }
    if (c.out.empty()) {
      c.out = std::move(d.response);
    } else {
      c.out += d.response;  // after an interim `100 Continue` still unsent
    }
    c.close_after_write = d.close;
    c.state = State::Writing;
    c.deadline = capped(Clock::now() + opt.write_timeout);
  }

  // A complete request: answered on this thread when its body is small (an AdmissionReview takes
  // tens of microseconds, less than handing it to another thread and back); a larger one goes to
  // the pool, so that the server's threads stay free for the other connections. Returns true
  // when the answer is ready (state Writing).
  bool dispatch(Conn& c) {
    std::size_t body_size = 0;
    std::string request = c.framer.take(c.in, &body_size);
    bool close = stopping || (opt.keep_alive_max != 0 && c.served + 1 >= opt.keep_alive_max);
    if (body_size <= kInlineBody) {
      Completion d = process(c.id, request, body_size, close, c);
      answer(c, d);
      return true;
    }
    c.state = State::Busy;
    set_interest(c, 0);
    pool->enqueue([this, id = c.id, request = std::move(request), body_size, close,
                   addresses = static_cast<const Addresses&>(c)]() {
      Completion d = process(id, request, body_size, close, addresses);
      {
        std::lock_guard lock(done_mu);
        done.push_back(std::move(d));
      }
      wake();
    });
    return false;
  }

  // Runs a connection's state machine as far as it can go without blocking. With c.mu held.
  void drive(Conn& c) {
    std::size_t budget = kReadBudget;
    for (;;) {
      switch (c.state) {
        case State::Handshake: {
          ERR_clear_error();
          int r = SSL_do_handshake(c.ssl);
          if (r == 1) {
            c.state = State::Reading;
            c.deadline = capped(Clock::now() + (stopping ? kShutdownGraceForNew : opt.idle_timeout));
            continue;
          }
          int e = SSL_get_error(c.ssl, r);
          if (e == SSL_ERROR_WANT_READ) return set_interest(c, EPOLLIN);
          if (e == SSL_ERROR_WANT_WRITE) return set_interest(c, EPOLLOUT);
          log::debug("TLS handshake failed", {{"remote", c.remote_ip}, {"error", ssl_error_text()}});
          return close_conn(c, "handshake_failed");
        }
        case State::Reading: {
          if (!c.out.empty()) {  // an interim `100 Continue`
            if (flush(c) == Io::Closed) return close_conn(c);
          }
          if (!c.in.empty() || c.framer.headers_done()) {
            auto st = c.framer.advance(c.in);
            if (st == RequestFramer::Status::Error) {
              int status = c.framer.error_status();
              refuse(c, status, c.framer.error_message(), status == 413 ? "too_large" : "bad_request");
              continue;
            }
            if (c.framer.wants_continue()) {
              c.out += "HTTP/1.1 100 Continue\r\n\r\n";
              c.framer.continue_sent();
              if (flush(c) == Io::Closed) return close_conn(c);
            }
            if (st == RequestFramer::Status::Complete) {
              if (dispatch(c)) continue;
              return;
            }
          }
          if (budget == 0) {
            // Other connections get a turn. OpenSSL reads ahead, so it may already hold the
            // rest of the request, and then the socket will not report it: come back when the
            // socket is writable instead, which it is at once unless the client stopped
            // reading its answers.
            if (SSL_has_pending(c.ssl) != 0) return set_interest(c, EPOLLIN | EPOLLOUT);
            return set_interest(c, EPOLLIN | (c.out.empty() ? 0u : EPOLLOUT));
          }
          char buf[kReadChunk];
          ERR_clear_error();
          int n = SSL_read(c.ssl, buf, sizeof buf);
          if (n > 0) {
            if (!c.request_started) {
              c.request_started = true;
              c.deadline = capped(Clock::now() + opt.read_timeout);
            }
            c.in.append(buf, static_cast<std::size_t>(n));
            budget -= std::min(budget, static_cast<std::size_t>(n));
            continue;
          }
          int e = SSL_get_error(c.ssl, n);
          if (e == SSL_ERROR_WANT_READ) return set_interest(c, EPOLLIN | (c.out.empty() ? 0u : EPOLLOUT));
          if (e == SSL_ERROR_WANT_WRITE) return set_interest(c, EPOLLIN | EPOLLOUT);
          ERR_clear_error();
          return close_conn(c);  // the client closed the connection (or broke TLS)
        }
        case State::Busy: return set_interest(c, 0);
        case State::Writing: {
          Io io = flush(c);
          if (io == Io::Closed) return close_conn(c);
          if (io == Io::WantWrite) return set_interest(c, EPOLLOUT);
          if (io == Io::WantRead) return set_interest(c, EPOLLIN);
          ++c.served;
          if (c.close_after_write) {
            start_drain(c);
            continue;
          }
          c.state = State::Reading;
          c.request_started = !c.in.empty();  // a pipelined request is already here
          c.deadline = capped(Clock::now() + (c.request_started ? opt.read_timeout : opt.idle_timeout));
          // Nothing received and nothing in OpenSSL's buffers: the client is reading the answer,
          // so a read now would only fail with EAGAIN. Wait for the socket instead (re-arming a
          // readable socket reports it at once).
          if (c.in.empty() && SSL_has_pending(c.ssl) == 0) return set_interest(c, EPOLLIN);
          continue;
        }
        case State::Draining: {
          // Read and drop what the client still sends, so that closing does not reset the
          // connection before it has read the response.
          char buf[kReadChunk];
          for (;;) {
            ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
            if (n > 0) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return set_interest(c, EPOLLIN);
            if (n < 0 && errno == EINTR) continue;
            return close_conn(c);
          }
        }
      }
    }
  }

  // An event epoll reported for a connection (now disarmed).
  void on_conn_event(std::uint64_t id) {
    std::shared_ptr<Conn> c = find(id);
    if (!c) return;
    std::lock_guard lock(c->mu);
    if (c->closed) return;
    c->armed = false;
    if (c->state != State::Busy) drive(*c);
  }

  // Accepts a batch of connections, arms the listening socket again (so that another thread can
  // take the next batch), then starts their handshakes.
  void accept_all() {
    std::vector<std::shared_ptr<Conn>> accepted;
    {
      std::lock_guard lock(listen_mu);
      if (listen_fd < 0) return;
      for (int i = 0; i < 16; ++i) {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
          if (errno == EINTR || errno == ECONNABORTED) continue;
          if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            // Out of descriptors: stop polling the listener for a moment instead of spinning.
            log::error("cannot accept a connection", {{"error", std::strerror(errno)}});
            accept_paused = true;
            accept_paused_until = Clock::now() + std::chrono::milliseconds(200);
          }
          break;
        }
        if (open_connections.load() >= opt.max_connections) {
          ::close(fd);
          metrics.count_connection_closed("limit");
          continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        SslContext ctx = certs.current();
        SSL* ssl = ctx ? SSL_new(ctx.get()) : nullptr;
        if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) {
          if (ssl != nullptr) SSL_free(ssl);
          ::close(fd);
          ERR_clear_error();
          continue;
        }
        SSL_set_accept_state(ssl);
        auto c = std::make_shared<Conn>(next_id++, fd, ssl, limits());
        c->remote_ip = address_of(ss, c->remote_port);
        sockaddr_storage local{};
        socklen_t llen = sizeof local;
        if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &llen) == 0)
          c->local_ip = address_of(local, c->local_port);
        c->deadline = capped(Clock::now() + opt.handshake_timeout);
        open_connections.fetch_add(1);
        metrics.connections_add(1);
        accepted.push_back(std::move(c));
      }
      if (!accept_paused) epoll_set(listen_fd, kListenId, EPOLLIN | EPOLLONESHOT, EPOLL_CTL_MOD);
    }
    for (auto& c : accepted) {
      std::lock_guard lock(c->mu);
      {
        std::lock_guard map_lock(conns_mu);
        conns.emplace(c->id, c);
      }
      drive(*c);
    }
  }

  // The eventfd: answers from the pool, or a shutdown to look at.
  void on_wake() {
    std::uint64_t n = 0;
    [[maybe_unused]] ssize_t r = ::read(wake_fd, &n, sizeof n);
    epoll_set(wake_fd, kWakeId, EPOLLIN | EPOLLONESHOT, EPOLL_CTL_MOD);
    std::vector<Completion> ready;
    {
      std::lock_guard lock(done_mu);
      ready.swap(done);
    }
    for (Completion& d : ready) {
      std::shared_ptr<Conn> c = find(d.id);
      if (!c) continue;
      std::lock_guard lock(c->mu);
      if (c->closed) continue;
      answer(*c, d);
      drive(*c);
    }
  }

  void on_signal(std::function<void()>& hup) {
    signalfd_siginfo info{};
    while (::read(signal_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      if (info.ssi_signo == SIGHUP) {
        if (hup) hup();
        continue;
      }
      if (stopping) {
        log::warn("second signal: closing every connection now", {{"signal", static_cast<int>(info.ssi_signo)}});
        stop_deadline_ticks = ticks(Clock::now());
      } else {
        log::info("signal received: shutting down gracefully", {{"signal", static_cast<int>(info.ssi_signo)}});
        stop_requested = true;
      }
    }
    epoll_set(signal_fd, kSignalId, EPOLLIN | EPOLLONESHOT, EPOLL_CTL_MOD);
  }

  // Once, on whichever thread gets there: accept what the kernel has already queued, close the
  // listening socket, close idle kept-alive connections, and give the others the deadline.
  void begin_shutdown() {
    auto now = Clock::now();
    stop_deadline_ticks = ticks(now + opt.shutdown_timeout);
    accept_all();  // connections already queued in the kernel are served too
    {
      std::lock_guard lock(listen_mu);
      if (listen_fd >= 0) {
        epoll_ctl(epoll_fd, EPOLL_CTL_DEL, listen_fd, nullptr);
        ::close(listen_fd);
        listen_fd = -1;
      }
    }
    stopping = true;
    for (auto& c : snapshot()) {
      std::lock_guard lock(c->mu);
      if (c->closed) continue;
      if (c->state == State::Reading && !c->request_started && c->in.empty() && !c->framer.headers_done()) {
        if (c->served > 0) {
          close_conn(*c);  // between two requests of a kept-alive connection
          continue;
        }
        c->deadline = std::min(c->deadline, now + kShutdownGraceForNew);
      }
      if (c->state != State::Busy) c->deadline = std::min(c->deadline, stop_deadline());
    }
    log::info("stopped accepting connections", {{"connections", open_connections.load()},
                                                {"shutdown_timeout_s", opt.shutdown_timeout.count() / 1000.0}});
  }

  void sweep() {
    auto now = Clock::now();
    {
      std::lock_guard lock(listen_mu);
      if (accept_paused && now >= accept_paused_until && listen_fd >= 0) {
        accept_paused = false;
        epoll_set(listen_fd, kListenId, EPOLLIN | EPOLLONESHOT, EPOLL_CTL_MOD);
      }
    }
    for (auto& cp : snapshot()) {
      std::unique_lock lock(cp->mu, std::try_to_lock);
      if (!lock.owns_lock()) continue;  // in another thread's hands right now
      Conn& c = *cp;
      if (c.closed || c.state == State::Busy || now < c.deadline) continue;
      switch (c.state) {
        case State::Handshake: close_conn(c, "handshake_timeout"); break;
        case State::Reading:
          if ((c.request_started || c.framer.headers_done()) && !stopping) {
            refuse(c, 408, "the request was not complete within " + std::to_string(opt.read_timeout.count()) + " ms",
                   "read_timeout");
            drive(c);
          } else if (c.request_started || c.framer.headers_done()) {
            log::warn("shutdown timeout: closing a connection whose request is not complete",
                      {{"remote", c.remote_ip + ":" + std::to_string(c.remote_port)}});
            close_conn(c, "shutdown_timeout");
          } else {
            close_conn(c, stopping ? "shutdown" : "idle_timeout");
          }
          break;
        case State::Writing: close_conn(c, "write_timeout"); break;
        case State::Draining: close_conn(c); break;
        case State::Busy: break;
      }
    }
  }

  // Closes every connection, whoever holds them (the shutdown's deadline has passed).
  void close_all(std::string_view reason) {
    for (auto& c : snapshot()) {
      std::lock_guard lock(c->mu);
      close_conn(*c, reason);
    }
  }

  // What every thread runs. Returns once the shutdown has begun and no connection is left, or at
  // the shutdown's deadline.
  void run_thread(std::function<void()>* hup) {
    std::array<epoll_event, 8> events{};
    log::Batch batch;  // this thread's log lines, written once per turn of the loop
    for (;;) {
      auto now = Clock::now();
      if (stop_requested && !draining.exchange(true)) {
        drain_until_ticks = ticks(now + opt.shutdown_delay);
        if (opt.shutdown_delay.count() > 0) {
          log::info("shutdown requested: still accepting while the endpoints drop this server (/readyz fails)",
                    {{"shutdown_delay_s", opt.shutdown_delay.count() / 1000.0}});
        }
      }
      if (draining && !shutdown_begun && now >= at(drain_until_ticks.load()) && !shutdown_begun.exchange(true)) {
        begin_shutdown();
      }
      if (stopping) {
        if (no_connections()) break;
        if (Clock::now() >= stop_deadline()) {
          std::size_t n = open_connections.load();
          if (n > 0 && !timeout_logged.exchange(true)) {
            log::warn("shutdown timeout: closing the remaining connections", {{"connections", n}});
          }
          close_all("shutdown_timeout");
          break;
        }
      }
      log::flush();
      int n = epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), static_cast<int>(kTick.count()));
      if (n < 0 && errno != EINTR) {
        log::error("epoll_wait failed", {{"error", std::strerror(errno)}});
        break;
      }
      for (int i = 0; i < n; ++i) {
        std::uint64_t id = events[static_cast<std::size_t>(i)].data.u64;
        if (id == kListenId) {
          accept_all();
        } else if (id == kWakeId) {
          on_wake();
        } else if (id == kSignalId) {
          on_signal(*hup);
        } else {
          on_conn_event(id);
        }
      }
      if (Clock::now() >= at(next_sweep_ticks.load()) && sweep_mu.try_lock()) {
        std::lock_guard lock(sweep_mu, std::adopt_lock);
        if (Clock::now() >= at(next_sweep_ticks.load())) {  // not already swept by another thread
          sweep();
          next_sweep_ticks = ticks(Clock::now() + kTick);
        }
      }
    }
  }
};

HttpsServer::HttpsServer(ServerOptions options, const CertificateSource& certs, Metrics& metrics)
    : impl_(std::make_unique<Impl>(std::move(options), certs, metrics)) {
  auto& h = impl_->http;
  const ServerOptions& o = impl_->opt;
  const std::size_t max_count = o.keep_alive_max == 0 ? 1000000 : o.keep_alive_max;
  const time_t timeout_s = std::max<time_t>(1, static_cast<time_t>(o.idle_timeout.count() / 1000));
  h.set_tcp_nodelay(true);
  h.set_keep_alive_max_count(max_count);
  h.set_keep_alive_timeout(timeout_s);
  h.set_payload_max_length(o.max_body);
  // What httplib writes for the same two settings, for the direct path's answers.
  impl_->keep_alive_header =
      "Keep-Alive: timeout=" + std::to_string(timeout_s) + ", max=" + std::to_string(max_count) + "\r\n";
}

void HttpsServer::post_direct(std::string path, DirectHandler handler) {
  impl_->direct.emplace_back(std::move(path), std::move(handler));
}

HttpsServer::~HttpsServer() {
  Impl& m = *impl_;
  if (m.pool) m.pool->shutdown();
  for (auto& c : m.snapshot()) {
    std::lock_guard lock(c->mu);
    m.close_conn(*c);
  }
  for (int fd : {m.listen_fd, m.epoll_fd, m.wake_fd}) {
    if (fd >= 0) ::close(fd);
  }
}

int cpus_from_cpu_max(std::string_view cpu_max) {
  std::string text(cpu_max);
  std::istringstream in(text);
  std::string quota;
  long long period = 0;
  if (!(in >> quota >> period) || quota == "max" || period <= 0) return 0;
  char* end = nullptr;
  long long q = std::strtoll(quota.c_str(), &end, 10);
  if (end == quota.c_str() || *end != '\0' || q <= 0) return 0;
  return static_cast<int>(std::min<long long>((q + period - 1) / period, 1 << 16));
}

int usable_cpus() {
  int cpus = 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) cpus = CPU_COUNT(&set);
  if (cpus <= 0) cpus = static_cast<int>(std::thread::hardware_concurrency());
  auto read = [](const char* path) {
    std::ifstream f(path);
    std::string text;
    std::getline(f, text);
    return text;
  };
  int quota = cpus_from_cpu_max(read("/sys/fs/cgroup/cpu.max"));
  if (quota == 0) {  // cgroup v1
    std::string q = read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), p = read("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
    if (!q.empty() && !p.empty()) quota = cpus_from_cpu_max(q + " " + p);
  }
  if (quota > 0) cpus = std::min(cpus, quota);
  return std::max(cpus, 1);
}

// Two per CPU the pod may use (a node's 64 cores do not make 128 threads under a 1-CPU limit).
// The threads share the connections, so one the scheduler preempts in the middle of a request
// holds up that request only while the others go on; idle, they sleep in epoll_wait. On the
// 2-CPU benchmark machine, with the load generator on the same cores, 4 threads instead of 2
// brought the p99 from about 9 ms to 6-7 ms at the same CPU time per request
// (docs/benchmarks.md, section 16).
int default_workers() { return std::max(2, 2 * usable_cpus()); }

httplib::Server& HttpsServer::http() { return impl_->http; }

std::string_view HttpsServer::current_body() { return t_current_body; }

bool HttpsServer::bind(std::string& error) {
  const ServerOptions& o = impl_->opt;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port = std::to_string(o.port);
  int rc = getaddrinfo(o.host.empty() ? nullptr : o.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    error = "cannot resolve " + o.host + ": " + gai_strerror(rc);
    return false;
  }
  int fd = -1;
  std::string last = "no address";
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, o.backlog) == 0) break;
    last = std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    error = "cannot listen on " + o.host + ":" + port + ": " + last;
    return false;
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  address_of(ss, port_);
  impl_->listen_fd = fd;
  return true;
}

bool HttpsServer::stopping() const { return impl_->draining || impl_->stopping; }

void HttpsServer::request_shutdown() {
  impl_->stop_requested = true;
  if (impl_->wake_fd >= 0) impl_->wake();
}

int HttpsServer::run(int signal_fd, std::function<void()> on_hup) {
  Impl& m = *impl_;
  std::signal(SIGPIPE, SIG_IGN);
  m.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  m.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (m.epoll_fd < 0 || m.wake_fd < 0 || m.listen_fd < 0) {
    log::error("cannot start the event loop", {{"error", std::strerror(errno)}});
    return 1;
  }
  m.signal_fd = signal_fd;
  m.epoll_set(m.listen_fd, kListenId, EPOLLIN | EPOLLONESHOT, EPOLL_CTL_ADD);
  m.epoll_set(m.wake_fd, kWakeId, EPOLLIN | EPOLLONESHOT, EPOLL_CTL_ADD);
  if (signal_fd >= 0) m.epoll_set(signal_fd, kSignalId, EPOLLIN | EPOLLONESHOT, EPOLL_CTL_ADD);
  int workers = m.opt.workers > 0 ? m.opt.workers : default_workers();
  m.pool = std::make_unique<httplib::ThreadPool>(static_cast<size_t>(workers));
  m.next_sweep_ticks = Impl::ticks(Clock::now() + kTick);
  std::vector<std::thread> threads;
  for (int i = 1; i < workers; ++i) threads.emplace_back([&m, &on_hup] { m.run_thread(&on_hup); });
  m.run_thread(&on_hup);
  if (!m.stopping) {  // this thread failed: the others stop at once
    m.stop_deadline_ticks = Impl::ticks(Clock::now());
    m.stopping = true;
  }
  for (auto& t : threads) t.join();
  m.pool->shutdown();
  m.pool.reset();
  log::info("server stopped");
  return 0;
}

}  // namespace ray_admission::server
