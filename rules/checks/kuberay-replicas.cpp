// kuberay-replicas: worker group replica bounds are consistent, and replicas lies within them.
#include "kuberay.h"

#include <cstdint>

namespace ray_admission::checks {

namespace {

using namespace kuberay;

// The CRD's defaults, which the API server fills in before KubeRay sees the object.
constexpr std::int64_t kDefaultMin = 0;
constexpr std::int64_t kDefaultMax = 2147483647;

void check(const Workload& w, Reporter& r) {
  if (!w.kuberay || w.cluster == nullptr) return;
  // The texts and pointers are built only for a finding: most objects have none.
  auto verdict = [&] { return controller_verdict(w); };
  for (const Group& g : w.groups) {
    if (g.role != Role::Worker) continue;
    auto min_ptr = [&] { return g.spec_ptr + "/minReplicas"; };
    auto max_ptr = [&] { return g.spec_ptr + "/maxReplicas"; };
    auto min = integer(member(g.spec, "minReplicas"));
    auto max = integer(member(g.spec, "maxReplicas"));
    bool bad = false;
    if (min && *min < 0) {
      bad = true;
      r.report(min_ptr(), verdict() + ": " + group_label(g) + " sets minReplicas " + std::to_string(*min) +
                              " below zero at " + dotted(min_ptr()) + "; use 0 or more");
    }
    if (max && *max < 0) {
      bad = true;
      r.report(max_ptr(), verdict() + ": " + group_label(g) + " sets maxReplicas " + std::to_string(*max) +
                              " below zero at " + dotted(max_ptr()) + "; use 0 or more");
    }
    const std::int64_t lo = min.value_or(kDefaultMin);
    const std::int64_t hi = max.value_or(kDefaultMax);
    if (!bad && lo > hi) {
      bad = true;
      const std::string ptr = min ? min_ptr() : max_ptr();
      r.report(ptr, verdict() + ": " + group_label(g) + " sets minReplicas " + std::to_string(lo) +
                        " above maxReplicas " + std::to_string(hi) + " at " + dotted(g.spec_ptr) +
                        "; make minReplicas <= maxReplicas");
    }
    if (bad) continue;
    // An absent replicas defaults to 0, which KubeRay raising to minReplicas is the documented
    // way to start a group at its minimum: only a value the user wrote is worth a word.
    // A suspended group runs no Pods at all (and suspending depends on a feature gate).
    if (flag(member(g.spec, "suspend"))) continue;
    auto replicas = integer(member(g.spec, "replicas"));
    if (!replicas || (*replicas >= lo && *replicas <= hi)) continue;
    const bool above = *replicas > hi;
    const std::string rep_ptr = g.spec_ptr + "/replicas";
    r.advise(rep_ptr, "KubeRay would silently run " + std::to_string(above ? hi : lo) + " replicas of " +
                          group_label(g) + ": " + dotted(rep_ptr) + " " + std::to_string(*replicas) + " is " +
                          (above ? "above maxReplicas " : "below minReplicas ") + std::to_string(above ? hi : lo) +
                          "; set replicas within [minReplicas, maxReplicas]");
  }
}

}  // namespace

extern const RuleInfo kuberay_replicas{
    .name = "kuberay-replicas",
    .default_action = Action::Deny,
    .mutation = Mutation::None,
    .origin = Origin::KubeRayController,
    .summary = "Worker group replica bounds are non-negative and ordered, and `replicas` lies within them.",
    .why =
        "KubeRay's spec validation refuses a worker group whose minReplicas or maxReplicas is negative, "
        "or whose minReplicas exceeds maxReplicas, and then stops reconciling the cluster; the API server "
        "accepts all of these. A `replicas` value outside [minReplicas, maxReplicas] is not refused: KubeRay "
        "quietly clamps it to the nearest bound, so the cluster runs a different number of workers than "
        "the manifest says. That case is a warning.",
    .example =
        "workerGroupSpecs:\n"
        "- groupName: workers\n"
        "  replicas: 8\n"
        "  minReplicas: 5\n"
        "  maxReplicas: 2\n",
    .fix =
        "Order the bounds and keep replicas between them:\n\n"
        "  workerGroupSpecs:\n"
        "  - groupName: workers\n"
        "    replicas: 2\n"
        "    minReplicas: 1\n"
        "    maxReplicas: 5\n",
    .mutation_doc = "",
    .check = check,
};

}  // namespace ray_admission::checks
