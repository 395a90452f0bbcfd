#include "metrics.h"

#include <cstdio>

namespace ray_admission::server {

namespace {

// Prometheus label values escape backslash, double quote and newline.
std::string label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string number(double v, int digits = 9) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

}  // namespace

std::string_view Metrics::kind_label(std::string_view kind) {
  static constexpr std::string_view kKnown[] = {"RayCluster",  "RayJob",    "RayService", "RayCronJob", "Deployment",
                                                "StatefulSet", "DaemonSet", "Job",        "Pod"};
  for (std::string_view k : kKnown) {
    if (k == kind) return k;
  }
  return kind.empty() ? "" : "other";
}

std::string_view Metrics::operation_label(std::string_view op) {
  static constexpr std::string_view kKnown[] = {"CREATE", "UPDATE", "DELETE", "CONNECT"};
  for (std::string_view k : kKnown) {
    if (k == op) return k;
  }
  return op.empty() ? "" : "other";
}

void Metrics::observe(const Decision& d, double seconds) {
  LatencyKey key{std::string(to_string(d.webhook)), std::string(kind_label(d.kind)),
                 std::string(operation_label(d.operation)), std::string(d.result())};
  std::lock_guard lock(mu_);
  Histogram& h = latency_[key];
  std::size_t i = 0;
  while (i < kBuckets.size() && seconds > kBuckets[i]) ++i;
  if (i < kBuckets.size()) ++h.counts[i];
  ++h.count;
  h.sum += seconds;
  for (const auto& [rule, action] : d.findings) ++findings_[{rule, std::string(to_string(action))}];
}

void Metrics::count_response(std::string_view handler, int status) {
  std::lock_guard lock(mu_);
  ++responses_[{std::string(handler), status}];
}

void Metrics::count_connection_closed(std::string_view reason) {
  std::lock_guard lock(mu_);
  auto it = connections_closed_.find(reason);
  if (it == connections_closed_.end()) it = connections_closed_.emplace(std::string(reason), 0).first;
  ++it->second;
}

std::string Metrics::render() const {
  std::string out;
  out.reserve(8192);
  std::lock_guard lock(mu_);

  constexpr std::string_view kLatency = "ray_admission_request_duration_seconds";
  header(out, kLatency, "histogram",
         "Time to answer an AdmissionReview, from the complete request to the response, by webhook, kind, "
         "operation and result.");
  for (const auto& [key, h] : latency_) {
    const auto& [webhook, kind, op, result] = key;
    std::string labels = "webhook=\"" + label(webhook) + "\",kind=\"" + label(kind) + "\",operation=\"" + label(op) +
                         "\",result=\"" + label(result) + "\"";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
      cumulative += h.counts[i];
      out += std::string(kLatency) + "_bucket{" + labels + ",le=\"" + number(kBuckets[i], 6) + "\"} " +
             std::to_string(cumulative) + "\n";
    }
    out += std::string(kLatency) + "_bucket{" + labels + ",le=\"+Inf\"} " + std::to_string(h.count) + "\n";
    out += std::string(kLatency) + "_sum{" + labels + "} " + number(h.sum) + "\n";
    out += std::string(kLatency) + "_count{" + labels + "} " + std::to_string(h.count) + "\n";
  }

  header(out, "ray_admission_findings_total", "counter", "Findings reported, by rule and action.");
  for (const auto& [key, n] : findings_) {
    out += "ray_admission_findings_total{rule=\"" + label(key.first) + "\",action=\"" + label(key.second) + "\"} " +
           std::to_string(n) + "\n";
  }

  header(out, "ray_admission_http_responses_total", "counter", "HTTP responses, by handler and status code.");
  for (const auto& [key, n] : responses_) {
    out += "ray_admission_http_responses_total{handler=\"" + label(key.first) + "\",code=\"" +
           std::to_string(key.second) + "\"} " + std::to_string(n) + "\n";
  }

  header(out, "ray_admission_connections_closed_total", "counter",
         "Connections the server closed, by reason (timeouts, limits, failed handshakes).");
  for (const auto& [reason, n] : connections_closed_) {
    out += "ray_admission_connections_closed_total{reason=\"" + label(reason) + "\"} " + std::to_string(n) + "\n";
  }

  header(out, "ray_admission_requests_in_flight", "gauge", "AdmissionReviews being evaluated.");
  out += "ray_admission_requests_in_flight " + std::to_string(inflight_.load()) + "\n";
  header(out, "ray_admission_connections_open", "gauge", "Open client connections.");
  out += "ray_admission_connections_open " + std::to_string(connections_.load()) + "\n";
  header(out, "ray_admission_certificate_expiry_timestamp_seconds", "gauge",
         "When the serving certificate expires (notAfter), in seconds since the epoch.");
  out += "ray_admission_certificate_expiry_timestamp_seconds " + std::to_string(cert_expiry_.load()) + "\n";
  header(out, "ray_admission_certificate_reloads_total", "counter", "Serving certificates loaded after a change.");
  out += "ray_admission_certificate_reloads_total " + std::to_string(cert_reloads_.load()) + "\n";
  header(out, "ray_admission_certificate_reload_errors_total", "counter",
         "Changed certificate files that could not be loaded (the previous certificate kept serving).");
  out += "ray_admission_certificate_reload_errors_total " + std::to_string(cert_reload_errors_.load()) + "\n";
  header(out, "ray_admission_policy_reloads_total", "counter", "Policy files loaded after a change.");
  out += "ray_admission_policy_reloads_total " + std::to_string(policy_reloads_.load()) + "\n";
  header(out, "ray_admission_policy_reload_errors_total", "counter",
         "Changed policy files that could not be loaded (the previous policy stayed in force).");
  out += "ray_admission_policy_reload_errors_total " + std::to_string(policy_reload_errors_.load()) + "\n";
  return out;
}

}  // namespace ray_admission::server
