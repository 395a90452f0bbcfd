// kuberay-containers: the head and every worker group have at least one container.
#include "kuberay.h"

namespace ray_admission::checks {

namespace {

using namespace kuberay;

// The most precise place that exists: the empty list, the pod spec, the template, or the group.
std::string where(const Group& g) {
  if (member(g.pod_spec, "containers") != nullptr) return g.containers_ptr();
  if (g.pod_spec != nullptr) return g.pod_spec_ptr;
  if (g.pod_template != nullptr) return g.template_ptr;
  return g.spec_ptr;
}

void check(const Workload& w, Reporter& r) {
  if (!w.kuberay || w.cluster == nullptr) return;
  const std::string verdict = controller_verdict(w);
  if (w.head() == nullptr) {
    // KubeRay reads a missing headGroupSpec as one with no containers.
    const std::string ptr = w.cluster_ptr;
    r.report(ptr, verdict + ": " + dotted(ptr) +
                      " has no headGroupSpec, so the head has no container; add a "
                      "headGroupSpec whose template runs the Ray container");
  }
  for (const Group& g : w.groups) {
    const Json* c = g.containers();
    if (c != nullptr && !c->empty()) continue;
    const std::string ptr = where(g);
    r.report(ptr, verdict + ": " + dotted(ptr) + " lists no container for " + group_label(g) +
                      "; put the Ray container first in it");
  }
}

}  // namespace

extern const RuleInfo kuberay_containers{
    .name = "kuberay-containers",
    .default_action = Action::Deny,
    .mutation = Mutation::None,
    .origin = Origin::KubeRayController,
    .summary = "The head group and every worker group have at least one container in their pod template.",
    .why =
        "KubeRay runs Ray in the first container of each pod template and injects `ray start` into it. "
        "When the head or a worker group lists no container at all, the operator's spec validation fails "
        "and it stops reconciling the cluster; the API server accepts an empty `containers: []`, so the "
        "mistake only shows up as an event.",
    .example =
        "workerGroupSpecs:\n"
        "- groupName: workers\n"
        "  template:\n"
        "    spec:\n"
        "      containers: []\n",
    .fix =
        "Put the Ray container in the template:\n\n"
        "  template:\n"
        "    spec:\n"
        "      containers:\n"
        "      - name: ray-worker\n"
        "        image: rayproject/ray:2.9.0\n",
    .mutation_doc = "",
    .check = check,
};

}  // namespace ray_admission::checks
