// Helpers shared by the kuberay-* rules: the checks KubeRay makes in its webhook
// (ray-operator/pkg/webhooks/v1) and in its controllers (ray-operator/controllers/ray/utils/
// validation.go), moved to admission time. Header-only; everything here is inline.
#pragma once

#include "../json_pointer.h"
#include "../rule.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ray_admission::checks::kuberay {

// What KubeRay does with an object its controller finds invalid: it records a warning event
// and stops there (for a RayJob it also marks the job as failed validation).
inline std::string controller_verdict(const Workload& w) {
  switch (w.kind) {
    case Kind::RayCluster: return "KubeRay would stop reconciling this RayCluster";
    case Kind::RayJob: return "KubeRay would fail this RayJob without running it";
    case Kind::RayService: return "KubeRay would stop reconciling this RayService";
    case Kind::RayCronJob: return "KubeRay would create no RayJob from this RayCronJob";
    default: return "KubeRay would reject this object";
  }
}

// What KubeRay's webhook does with a RayCluster it finds invalid; for a cluster embedded in
// another kind, the RayCluster that the operator creates from it is the one refused.
inline std::string webhook_verdict(const Workload& w) {
  switch (w.kind) {
    case Kind::RayCluster: return "KubeRay's webhook would reject this RayCluster";
    case Kind::RayJob: return "KubeRay's webhook would reject this RayJob's RayCluster";
    case Kind::RayService: return "KubeRay's webhook would reject this RayService's RayCluster";
    case Kind::RayCronJob: return "KubeRay's webhook would reject this RayCronJob's RayClusters";
    default: return "KubeRay's webhook would reject this object";
  }
}

// A user-supplied string quoted for a message, cut short so that messages stay under the
// 256 characters the API server keeps of a warning.
inline std::string quote(std::string_view s, std::size_t max = 28) {
  if (s.size() <= max) return "\"" + std::string(s) + "\"";
  return "\"" + std::string(s.substr(0, max)) + "...\"";
}

inline std::string dotted(std::string_view ptr) { return pointer::to_dotted(ptr); }

// "the head group" or "worker group \"small\"", as KubeRay names groups in its errors.
inline std::string group_label(const Group& g) {
  return g.role == Role::Head ? std::string("the head group") : "worker group " + quote(g.name, 20);
}

// An integer member (KubeRay's *int32 fields), or nullopt when absent or not an integer.
inline std::optional<std::int64_t> integer(const Json* v) {
  if (v == nullptr) return std::nullopt;
  if (v->is_number_integer()) return v->get<std::int64_t>();
  if (v->is_number_unsigned()) {
    auto u = v->get<std::uint64_t>();
    return u > static_cast<std::uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(u);
  }
  return std::nullopt;
}

// A Go string field as KubeRay reads it: the JSON string, or "" when absent or not a string.
inline std::string_view text(const Json* v) {
  return v != nullptr && v->is_string() ? std::string_view(v->get_ref<const std::string&>()) : std::string_view();
}

// A Go bool field: true only for JSON true.
inline bool flag(const Json* v) { return v != nullptr && v->is_boolean() && v->get<bool>(); }

// A Go map or slice field has len(...) > 0.
inline bool non_empty(const Json* v) { return v != nullptr && (v->is_object() || v->is_array()) && !v->empty(); }

// The first entry of a container's `env` with that name (KubeRay's EnvVarByName), and its index.
struct EnvVar {
  const Json* entry = nullptr;
  std::size_t index = 0;
  explicit operator bool() const { return entry != nullptr; }
  std::string_view value() const { return text(member(entry, "value")); }
};

inline EnvVar env_var(const Json* container, std::string_view name) {
  const Json* env = member(container, "env");
  if (env == nullptr || !env->is_array()) return {};
  for (std::size_t i = 0; i < env->size(); ++i) {
    if (text(member((*env)[i], "name")) == name) return EnvVar{&(*env)[i], i};
  }
  return {};
}

inline std::string env_ptr(const Group& g, const EnvVar& e) {
  return pointer::child(g.container_ptr() + "/env", e.index);
}

// KubeRay's IsAutoscalingEnabled: enableInTreeAutoscaling is true.
inline bool autoscaling_enabled(const Json* cluster) { return flag(member(cluster, "enableInTreeAutoscaling")); }

// KubeRay's IsAutoscalingV2Enabled: autoscalerOptions.version is "v2".
inline bool autoscaler_v2(const Json* cluster) {
  return text(member(member(cluster, "autoscalerOptions"), "version")) == "v2";
}

// The annotations KubeRay passes to ValidateRayClusterSpec. A RayCronJob's RayJobs are made
// from its jobTemplate alone (they carry none of its annotations), so for it there are none.
inline const Json* cluster_annotations(const Workload& w) {
  if (w.kind == Kind::RayCronJob) return nullptr;
  const Json* a = member(member(w.object, "metadata"), "annotations");
  return a != nullptr && a->is_object() ? a : nullptr;
}

inline std::string annotation_ptr(std::string_view key) { return pointer::child("/metadata/annotations", key); }

// --- Kubernetes name syntax (k8s.io/apimachinery/pkg/util/validation), written out by hand. ---

inline bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
inline bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }

// DNS-1035 label: at most 63 characters, lower-case letters, digits and '-', starting with a
// letter and ending with a letter or digit.
inline bool is_dns1035_label(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!(s.front() >= 'a' && s.front() <= 'z') || !is_lower_alnum(s.back())) return false;
  for (char c : s) {
    if (!is_lower_alnum(c) && c != '-') return false;
  }
  return true;
}

// DNS-1123 subdomain: at most 253 characters, dot-separated labels of lower-case letters, digits
// and '-', each starting and ending with a letter or digit.
inline bool is_dns1123_subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = s.find('.', start);
    std::string_view label = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || !is_lower_alnum(label.front()) || !is_lower_alnum(label.back())) return false;
    for (char c : label) {
      if (!is_lower_alnum(c) && c != '-') return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// The name part of a qualified name, and a label value: alphanumerics, '-', '_' and '.', starting
// and ending with an alphanumeric, at most 63 characters.
inline bool is_name_part(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!is_alnum(s.front()) || !is_alnum(s.back())) return false;
  for (char c : s) {
    if (!is_alnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

// A label key: an optional DNS-1123 subdomain prefix and '/', then a name part.
inline bool is_qualified_name(std::string_view s) {
  std::size_t slash = s.find('/');
  if (slash == std::string_view::npos) return is_name_part(s);
  if (s.find('/', slash + 1) != std::string_view::npos) return false;
  return is_dns1123_subdomain(s.substr(0, slash)) && is_name_part(s.substr(slash + 1));
}

// A label value: empty, or a name part.
inline bool is_label_value(std::string_view s) { return s.empty() || is_name_part(s); }

// --- Go's time.ParseDuration, for the values KubeRay reads with it. ---

// The sign of a Go duration string ("1h30m", "-2s", ".5m", "0"): -1, 0 or 1, or nullopt when Go
// would not parse it (no unit, an unknown unit, no digits, or an overflow).
inline std::optional<int> go_duration_sign(std::string_view s) {
  int sign = 1;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    if (s.front() == '-') sign = -1;
    s.remove_prefix(1);
  }
  if (s == "0") return 0;
  if (s.empty()) return std::nullopt;
  long double total = 0;  // nanoseconds
  while (!s.empty()) {
    long double value = 0;
    std::size_t digits = 0;
    while (!s.empty() && s.front() >= '0' && s.front() <= '9') {
      value = value * 10 + (s.front() - '0');
      s.remove_prefix(1);
      ++digits;
    }
    if (!s.empty() && s.front() == '.') {
      s.remove_prefix(1);
      long double scale = 1;
      while (!s.empty() && s.front() >= '0' && s.front() <= '9') {
        scale /= 10;
        value += (s.front() - '0') * scale;
        s.remove_prefix(1);
        ++digits;
      }
    }
    if (digits == 0) return std::nullopt;
    std::size_t n = 0;
    while (n < s.size() && s[n] != '.' && !(s[n] >= '0' && s[n] <= '9')) ++n;
    const std::string_view unit = s.substr(0, n);
    s.remove_prefix(n);
    long double ns = 0;
    if (unit == "ns")
      ns = 1;
    else if (unit == "us" || unit == "\u00b5s" || unit == "\u03bcs")
      ns = 1e3;
    else if (unit == "ms")
      ns = 1e6;
    else if (unit == "s")
      ns = 1e9;
    else if (unit == "m")
      ns = 60e9;
    else if (unit == "h")
      ns = 3600e9;
    else
      return std::nullopt;
    total += value * ns;
    if (total > 9223372036854775807.0L) return std::nullopt;
  }
  return total == 0 ? 0 : sign;
}

}  // namespace ray_admission::checks::kuberay
