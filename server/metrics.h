// The server's metrics, rendered in Prometheus' text format (version 0.0.4). Every name starts
// with `ray_admission_`. Label values come from small fixed sets (the rule registry, the kinds the
// engine knows, the admission operations), so that a client cannot grow the series without bound.
#pragma once

#include "admission.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <ctime>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>

namespace ray_admission::server {

class Metrics {
 public:
  // Upper bounds of the latency histogram, in seconds.
  static constexpr std::array<double, 16> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};

  // One answered /validate or /mutate request: its latency and findings.
  void observe(const Decision& d, double seconds);
  // Any HTTP answer, by path class and status code (including those refused before routing).
  void count_response(std::string_view handler, int status);
  // A connection closed for a reason other than the client going away: "handshake_timeout",
  // "read_timeout", "idle_timeout", "write_timeout", "too_large", "handshake_failed", "limit".
  void count_connection_closed(std::string_view reason);

  void inflight_add(int delta) { inflight_.fetch_add(delta, std::memory_order_relaxed); }
  void connections_add(int delta) { connections_.fetch_add(delta, std::memory_order_relaxed); }
  void set_certificate_expiry(std::time_t t) { cert_expiry_.store(static_cast<std::int64_t>(t)); }
  void certificate_reload(bool ok) { (ok ? cert_reloads_ : cert_reload_errors_).fetch_add(1); }
  void policy_reload(bool ok) { (ok ? policy_reloads_ : policy_reload_errors_).fetch_add(1); }

  std::string render() const;

  // The label a kind or an operation gets: itself when the engine knows it, else "other".
  static std::string_view kind_label(std::string_view kind);
  static std::string_view operation_label(std::string_view op);

 private:
  struct Histogram {
    std::array<std::uint64_t, kBuckets.size()> counts{};  // per bucket (not cumulative)
    std::uint64_t count = 0;
    double sum = 0;
  };
  using LatencyKey = std::tuple<std::string, std::string, std::string, std::string>;  // webhook kind op result

  mutable std::mutex mu_;
  std::map<LatencyKey, Histogram> latency_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> findings_;  // rule, action
  std::map<std::pair<std::string, int>, std::uint64_t> responses_;         // handler, code
  std::map<std::string, std::uint64_t, std::less<>> connections_closed_;   // reason

  std::atomic<std::int64_t> inflight_{0};
  std::atomic<std::int64_t> connections_{0};
  std::atomic<std::int64_t> cert_expiry_{0};
  std::atomic<std::uint64_t> cert_reloads_{0}, cert_reload_errors_{0};
  std::atomic<std::uint64_t> policy_reloads_{0}, policy_reload_errors_{0};
};

}  // namespace ray_admission::server
