#include "registry.h"

#include <algorithm>
#include <array>

namespace ray_admission {

// One line per rule, sorted by name. Each is defined in rules/checks/<name>.cpp.
namespace checks {
extern const RuleInfo kuberay_autoscaler;
extern const RuleInfo kuberay_containers;
extern const RuleInfo kuberay_gcs_ft;
extern const RuleInfo kuberay_group_names;
extern const RuleInfo kuberay_labels_param;
extern const RuleInfo kuberay_name;
extern const RuleInfo kuberay_rayjob;
extern const RuleInfo kuberay_rayservice;
extern const RuleInfo kuberay_replicas;
extern const RuleInfo kuberay_resources_twice;
extern const RuleInfo ray_container_first;
extern const RuleInfo ray_dashboard_host;
extern const RuleInfo ray_fractional_cpu;
extern const RuleInfo ray_gpu_params;
extern const RuleInfo ray_head_ports;
extern const RuleInfo ray_image_consistency;
extern const RuleInfo ray_image_version;
extern const RuleInfo ray_limits_set;
extern const RuleInfo ray_prestop;
extern const RuleInfo ray_redis_password;
extern const RuleInfo ray_requests_equal_limits;
extern const RuleInfo ray_resource_params_format;
extern const RuleInfo ray_resources_custom_only;
extern const RuleInfo ray_service_type;
extern const RuleInfo ray_start_params_strings;
extern const RuleInfo ray_template_name;
extern const RuleInfo skip_annotation;
}  // namespace checks

namespace {
constexpr std::array kRules = {
    &checks::kuberay_autoscaler,
    &checks::kuberay_containers,
    &checks::kuberay_gcs_ft,
    &checks::kuberay_group_names,
    &checks::kuberay_labels_param,
    &checks::kuberay_name,
    &checks::kuberay_rayjob,
    &checks::kuberay_rayservice,
    &checks::kuberay_replicas,
    &checks::kuberay_resources_twice,
    &checks::ray_container_first,
    &checks::ray_dashboard_host,
    &checks::ray_fractional_cpu,
    &checks::ray_gpu_params,
    &checks::ray_head_ports,
    &checks::ray_image_consistency,
    &checks::ray_image_version,
    &checks::ray_limits_set,
    &checks::ray_prestop,
    &checks::ray_redis_password,
    &checks::ray_requests_equal_limits,
    &checks::ray_resource_params_format,
    &checks::ray_resources_custom_only,
    &checks::ray_service_type,
    &checks::ray_start_params_strings,
    &checks::ray_template_name,
    &checks::skip_annotation,
};
}  // namespace

std::span<const RuleInfo* const> all_rules() { return kRules; }

const RuleInfo* find_rule(std::string_view name) {
  auto it = std::find_if(kRules.begin(), kRules.end(), [&](const RuleInfo* r) { return r->name == name; });
  return it == kRules.end() ? nullptr : *it;
}

}  // namespace ray_admission
