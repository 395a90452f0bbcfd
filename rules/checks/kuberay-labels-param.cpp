// kuberay-labels-param: Ray node labels go in the group's `labels` field, which must hold valid
// Kubernetes label keys and values, never in rayStartParams.
#include "kuberay.h"

namespace ray_admission::checks {

namespace {

using namespace kuberay;

void check(const Workload& w, Reporter& r) {
  if (!w.kuberay || w.cluster == nullptr) return;
  const std::string verdict = controller_verdict(w);
  for (const Group& g : w.groups) {
    if (auto p = g.param("labels")) {
      r.report(p->pointer, verdict + ": " + dotted(p->pointer) + " is not supported; move the labels to " +
                               dotted(g.spec_ptr + "/labels"));
    }
    const Json* labels = member(g.spec, "labels");
    if (labels == nullptr || !labels->is_object()) continue;
    // The key goes into the message quoted (and cut short), not into the dotted path: label keys
    // may be far longer than a message can hold.
    const std::string labels_path = dotted(g.spec_ptr + "/labels");
    for (auto it = labels->begin(); it != labels->end(); ++it) {
      const std::string ptr = pointer::child(g.spec_ptr + "/labels", it.key());
      if (!is_qualified_name(it.key())) {
        r.report(ptr, verdict + ": " + labels_path + " key " + quote(it.key()) +
                          " is not a valid label key; use [prefix/]name with alphanumerics, '-', '_', '.'");
      }
      if (it.value().is_string() && !is_label_value(it.value().get_ref<const std::string&>())) {
        r.report(ptr, verdict + ": " + labels_path + " " + quote(it.key()) + " has an invalid value " +
                          quote(it.value().get_ref<const std::string&>(), 24) +
                          "; use up to 63 alphanumerics, '-', '_', '.'");
      }
    }
  }
}

}  // namespace

extern const RuleInfo kuberay_labels_param{
    .name = "kuberay-labels-param",
    .default_action = Action::Deny,
    .mutation = Mutation::None,
    .origin = Origin::KubeRayController,
    .summary =
        "Ray node labels are set in the group's `labels` field with valid label syntax, not in "
        "`rayStartParams.labels`.",
    .why =
        "KubeRay passes a group's `labels` field to `ray start --labels` itself, so it refuses a "
        "`labels` entry in rayStartParams, and it requires each key and value of the `labels` field to "
        "follow Kubernetes label syntax (a key is an optional DNS subdomain prefix and a name of up to 63 "
        "alphanumerics, '-', '_' and '.'; a value is empty or such a name). Either mistake fails the "
        "operator's spec validation and it stops reconciling the cluster.",
    .example =
        "workerGroupSpecs:\n"
        "- groupName: gpu\n"
        "  rayStartParams:\n"
        "    labels: \"accelerator=a100\"\n",
    .fix =
        "Use the group's `labels` field:\n\n"
        "  workerGroupSpecs:\n"
        "  - groupName: gpu\n"
        "    rayStartParams: {}\n"
        "    labels:\n"
        "      accelerator: a100\n",
    .mutation_doc = "",
    .check = check,
};

}  // namespace ray_admission::checks
