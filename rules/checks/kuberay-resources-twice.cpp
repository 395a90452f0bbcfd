// kuberay-resources-twice: a group declares its Ray resources either in rayStartParams or in its
// `resources` field, not in both.
#include "kuberay.h"

#include <array>

namespace ray_admission::checks {

namespace {

using namespace kuberay;

constexpr std::array<std::string_view, 4> kResourceParams = {"num-cpus", "num-gpus", "memory", "resources"};

void check(const Workload& w, Reporter& r) {
  if (!w.kuberay || w.cluster == nullptr) return;
  for (const Group& g : w.groups) {
    if (!non_empty(member(g.spec, "resources"))) continue;
    std::string names;
    std::string first_ptr;
    for (std::string_view name : kResourceParams) {
      auto p = g.param(name);
      if (!p || p->text.empty()) continue;  // KubeRay counts only non-empty values
      if (first_ptr.empty()) first_ptr = p->pointer;
      names += (names.empty() ? "" : ", ") + std::string(name);
    }
    if (first_ptr.empty()) continue;
    r.report(first_ptr, controller_verdict(w) + ": " + dotted(g.spec_ptr) + " sets " + names +
                            " in rayStartParams and also the resources field; declare Ray resources in only one of "
                            "them");
  }
}

}  // namespace

extern const RuleInfo kuberay_resources_twice{
    .name = "kuberay-resources-twice",
    .default_action = Action::Deny,
    .mutation = Mutation::None,
    .origin = Origin::KubeRayController,
    .summary = "A group does not declare Ray resources both in rayStartParams and in its `resources` field.",
    .why =
        "KubeRay builds the `--num-cpus`, `--num-gpus`, `--memory` and `--resources` flags of `ray start` "
        "from a group's `resources` map. When the same group also sets any of `num-cpus`, `num-gpus`, "
        "`memory` or `resources` in rayStartParams, the operator cannot tell which one is meant: its spec "
        "validation fails and it stops reconciling the cluster.",
    .example =
        "workerGroupSpecs:\n"
        "- groupName: gpu\n"
        "  rayStartParams:\n"
        "    num-gpus: \"1\"\n"
        "  resources:\n"
        "    GPU: \"1\"\n"
        "    accelerator: \"1\"\n",
    .fix =
        "Keep every Ray resource in one place, preferably the group's `resources` field:\n\n"
        "  workerGroupSpecs:\n"
        "  - groupName: gpu\n"
        "    rayStartParams: {}\n"
        "    resources:\n"
        "      GPU: \"1\"\n"
        "      accelerator: \"1\"\n",
    .mutation_doc = "",
    .check = check,
};

}  // namespace ray_admission::checks
