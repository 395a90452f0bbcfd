// The HTTPS transport. cpp-httplib parses unusual requests, routes them and writes their
// responses; what it cannot do with its blocking thread-per-connection model (a deadline for a
// whole request, idle and half-open clients that hold no thread, an oversized chunked body
// refused before it is buffered, the listen backlog) is done here:
//
//   - the server's threads share one epoll set (leader/followers): each takes the next ready
//     connection (one-shot, so a connection is in one thread's hands at a time) and carries it as
//     far as it goes: the TLS handshake, reading until the request is complete
//     (server/framing.h), with a deadline for the handshake, for the whole request and for idle
//     keep-alive connections, then the answer. A thread held back by the scheduler holds back only
//     the connection it is on;
//   - a complete request with a small body (every ordinary AdmissionReview) is answered on the
//     thread that read it: a plain POST to a path registered with post_direct() by its handler
//     alone, anything else by httplib's request processing over the bytes in memory. A larger
//     body goes to a thread pool, so that the server's threads stay free for the others, and the
//     answer comes back through an eventfd to be written.
//
// Slow, idle or silent clients therefore cost a few kilobytes each, never a thread.
#pragma once

#include "metrics.h"
#include "tls.h"

#include <httplib.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace ray_admission::server {

struct ServerOptions {
  std::string host = "0.0.0.0";
  int port = 8443;  // 0: any free port (see HttpsServer::port())
  int workers = 0;  // server threads, and threads in the pool for large requests; 0: default_workers()
  int backlog = 1024;
  std::size_t max_body = 7u << 20;
  std::size_t max_header = 64u << 10;
  std::size_t max_connections = 10000;
  std::size_t keep_alive_max = 1000;  // requests per connection; 0: no limit
  std::chrono::milliseconds handshake_timeout{10000};
  std::chrono::milliseconds read_timeout{10000};  // from the first byte of a request to its last
  std::chrono::milliseconds write_timeout{10000};
  std::chrono::milliseconds idle_timeout{90000};  // a keep-alive connection between requests
  std::chrono::milliseconds shutdown_timeout{25000};
  // On SIGTERM, keep accepting (with /readyz failing) this long before stopping, for the time the
  // endpoints take to drop this pod; 0 stops accepting at once.
  std::chrono::milliseconds shutdown_delay{0};
};

// The CPUs this process may use: the affinity mask, capped by the cgroup's CPU quota (a
// container's CPU limit: cgroup v2 cpu.max, or v1 cpu.cfs_quota_us / cpu.cfs_period_us), rounded
// up. At least 1.
int usable_cpus();
// The quota in `cpu_max` (the text of cgroup v2's cpu.max, "max 100000" or "150000 100000") as
// whole CPUs rounded up, or 0 when there is none.
int cpus_from_cpu_max(std::string_view cpu_max);
// Server threads (and pool threads) when --workers is not given: two per usable CPU.
int default_workers();

// A POST answered without httplib (HttpsServer::post_direct). Views into the request's bytes,
// valid while the handler runs.
struct DirectRequest {
  std::string_view path;          // the target without its query
  std::string_view content_type;  // the first Content-Type header's value, or empty
  std::string_view body;
  std::string_view remote_ip;
  int remote_port = 0;
};

struct DirectResponse {
  int status = 200;
  std::string body;  // sent as application/json
};

using DirectHandler = std::function<void(const DirectRequest&, DirectResponse&)>;

class HttpsServer {
 public:
  HttpsServer(ServerOptions options, const CertificateSource& certs, Metrics& metrics);
  ~HttpsServer();
  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;

  // Where handlers are registered (Get, Post, set_error_handler, ...). Its listen() is not used.
  httplib::Server& http();

  // In a handler: the body of the request being handled, read in place from the bytes the event
  // loop framed (decoded, when it came chunked). A handler registered with a ContentReader that
  // it never calls gets its body this way without httplib copying it into `req.body`, 4 KiB at a
  // time, first. Valid on the handler's thread until the handler returns; empty elsewhere.
  static std::string_view current_body();

  // Registers a handler for POSTs to exactly `path` that runs without httplib's parsing, routing
  // and response writing, when the request is plain: HTTP/1.1, a target without escapes, headers
  // of the usual form. Any other request to the path still goes through httplib, so the same
  // route must be registered there too. Call before run().
  void post_direct(std::string path, DirectHandler handler);

  // Binds and listens. Returns false and sets `error` when the address cannot be used.
  bool bind(std::string& error);
  int port() const { return port_; }

  // Runs the server's threads (this one among them) until a graceful shutdown has finished.
  // `signal_fd` is a signalfd for SIGTERM, SIGINT (shutdown: stop accepting, finish the requests
  // in flight, then return) and SIGHUP (calls `on_hup`, on any of the threads), or -1. Returns 0
  // after a clean shutdown.
  int run(int signal_fd, std::function<void()> on_hup);

  // Thread-safe: starts the same graceful shutdown as SIGTERM.
  void request_shutdown();
  // True from the shutdown signal on (including the --shutdown-delay): /readyz then fails.
  bool stopping() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace ray_admission::server
