// kuberay-rayservice: the RayService-level settings are ones KubeRay accepts.
#include "kuberay.h"

namespace ray_admission::checks {

namespace {

using namespace kuberay;

constexpr std::string_view kInitTimeout = "ray.io/initializing-timeout";

// KubeRay reads the initializing timeout as a Go duration ("30m") or else as whole seconds.
// Returns the sign of the value, or nullopt when neither form parses.
std::optional<int> timeout_sign(std::string_view s) {
  if (auto d = go_duration_sign(s)) return d;
  std::string_view digits = s;
  int sign = 1;
  if (!digits.empty() && (digits.front() == '-' || digits.front() == '+')) {
    sign = digits.front() == '-' ? -1 : 1;
    digits.remove_prefix(1);
  }
  if (digits.empty() || digits.size() > 18) return std::nullopt;
  bool zero = true;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    zero = zero && c == '0';
  }
  return zero ? 0 : sign;
}

void check(const Workload& w, Reporter& r) {
  if (w.kind != Kind::RayService) return;
  const std::string verdict = controller_verdict(w);
  const Json* spec = member(w.object, "spec");

  const std::string type_ptr = "/spec/upgradeStrategy/type";
  if (const Json* type = member(member(spec, "upgradeStrategy"), "type"); type != nullptr && type->is_string()) {
    const std::string& t = type->get_ref<const std::string&>();
    if (t != "NewClusterWithIncrementalUpgrade" && t != "NewCluster" && t != "None") {
      r.report(type_ptr, verdict + ": " + dotted(type_ptr) + " " + quote(t) +
                             " is not a known strategy; use NewCluster, NewClusterWithIncrementalUpgrade or None");
    }
  }

  const std::string svc_ptr = "/spec/rayClusterConfig/headGroupSpec/headService/metadata/name";
  if (!text(pointer::resolve(*w.object, svc_ptr)).empty()) {
    r.report(svc_ptr, verdict + ": " + dotted(svc_ptr) +
                          " is set, but a RayService names its head Services itself; remove the name");
  }

  const std::string delay_ptr = "/spec/rayClusterDeletionDelaySeconds";
  if (auto d = integer(member(spec, "rayClusterDeletionDelaySeconds")); d && *d < 0) {
    r.report(delay_ptr, verdict + ": " + dotted(delay_ptr) + " is " + std::to_string(*d) + "; use 0 or more seconds");
  }

  const Json* timeout = member(member(member(w.object, "metadata"), "annotations"), kInitTimeout);
  if (timeout != nullptr && timeout->is_string() && !timeout->get_ref<const std::string&>().empty()) {
    const std::string& t = timeout->get_ref<const std::string&>();
    const std::string ptr = annotation_ptr(kInitTimeout);
    auto sign = timeout_sign(t);
    if (!sign) {
      r.report(ptr, verdict + ": " + dotted(ptr) + " " + quote(t) +
                        " is neither a duration nor a number of seconds; use a value such as \"10m\" or \"600\"");
    } else if (*sign <= 0) {
      r.report(ptr, verdict + ": " + dotted(ptr) + " " + quote(t) +
                        " is not positive; use a value such as \"10m\" or \"600\"");
    }
  }
}

}  // namespace

extern const RuleInfo kuberay_rayservice{
    .name = "kuberay-rayservice",
    .default_action = Action::Deny,
    .mutation = Mutation::None,
    .origin = Origin::KubeRayController,
    .summary =
        "A RayService uses an upgrade strategy, head Service, deletion delay and initializing timeout "
        "that KubeRay accepts.",
    .why =
        "KubeRay's RayService controller validates the service when it reconciles it and stops there if "
        "the upgrade strategy type is not NewClusterWithIncrementalUpgrade, NewCluster or None; if "
        "`rayClusterConfig.headGroupSpec.headService.metadata.name` is set (a RayService creates and names "
        "its head Services itself, one per cluster during an upgrade); if "
        "`rayClusterDeletionDelaySeconds` is negative; or if the `ray.io/initializing-timeout` annotation "
        "is not a positive Go duration or number of seconds.",
    .example =
        "apiVersion: ray.io/v1\n"
        "kind: RayService\n"
        "spec:\n"
        "  upgradeStrategy:\n"
        "    type: BlueGreen\n",
    .fix =
        "Use one of the strategies KubeRay implements:\n\n"
        "  spec:\n"
        "    upgradeStrategy:\n"
        "      type: NewCluster\n",
    .mutation_doc = "",
    .check = check,
};

}  // namespace ray_admission::checks
