// kuberay-group-names: worker group names are unique within a cluster.
#include "kuberay.h"

#include <map>

namespace ray_admission::checks {

namespace {

using namespace kuberay;

void check(const Workload& w, Reporter& r) {
  if (!w.kuberay || w.cluster == nullptr) return;
  const Json* workers = member(w.cluster, "workerGroupSpecs");
  if (workers == nullptr || !workers->is_array()) return;
  const std::string base = w.cluster_ptr + "/workerGroupSpecs";
  std::map<std::string, std::size_t, std::less<>> first;  // name -> index of its first group
  for (std::size_t i = 0; i < workers->size(); ++i) {
    const Json& spec = (*workers)[i];
    if (!spec.is_object()) continue;
    std::string name(text(member(spec, "groupName")));
    auto [it, inserted] = first.emplace(name, i);
    if (inserted) continue;
    const std::string spec_ptr = pointer::child(base, i);
    const std::string ptr = member(spec, "groupName") != nullptr ? spec_ptr + "/groupName" : spec_ptr;
    r.report(ptr, webhook_verdict(w) + ": " + dotted(ptr) + " " + quote(name) +
                      " is already the name of workerGroupSpecs[" + std::to_string(it->second) +
                      "]; give each worker group its own name");
  }
}

}  // namespace

extern const RuleInfo kuberay_group_names{
    .name = "kuberay-group-names",
    .default_action = Action::Deny,
    .mutation = Mutation::None,
    .origin = Origin::KubeRayWebhook,
    .summary = "No two worker groups of a cluster share a groupName.",
    .why =
        "KubeRay tells the Pods of a worker group apart by the group's name (the `ray.io/group` label), and "
        "the autoscaler scales groups by name. Two groups with the same name would fight over the same "
        "Pods, so KubeRay's webhook rejects a RayCluster whose worker group names are not unique. The "
        "webhook is optional and checks RayClusters only; without it, or for a cluster embedded in a "
        "RayJob or RayService, nothing stops the duplicate.",
    .example =
        "workerGroupSpecs:\n"
        "- groupName: workers\n"
        "  template: {...}\n"
        "- groupName: workers\n"
        "  template: {...}\n",
    .fix =
        "Give every worker group its own name:\n\n"
        "  workerGroupSpecs:\n"
        "  - groupName: cpu-workers\n"
        "  - groupName: gpu-workers\n",
    .mutation_doc = "",
    .check = check,
};

}  // namespace ray_admission::checks
