// ray-template-name: KubeRay names Ray pods itself; a name in the pod template is not used.
#include "../json_pointer.h"
#include "../rule.h"

namespace ray_admission::checks {

namespace {

void check(const Workload& w, Reporter& r) {
  if (!w.kuberay) return;
  for (const Group& g : w.groups) {
    const Json* meta = member(g.pod_template, "metadata");
    for (std::string_view key : {"name", "generateName"}) {
      const Json* v = member(meta, key);
      if (v == nullptr || v->is_null()) continue;
      const std::string ptr = pointer::child(g.template_ptr + "/metadata", key);
      r.report(ptr, pointer::to_dotted(ptr) +
                        " is ignored: KubeRay names the Ray pods itself from the cluster and group names; remove it");
    }
  }
}

}  // namespace

extern const RuleInfo ray_template_name{
    .name = "ray-template-name",
    .default_action = Action::Warn,
    .mutation = Mutation::None,
    .origin = Origin::RayDocs,
    .summary = "KubeRay pod templates set neither metadata.name nor metadata.generateName.",
    .why =
        "The KubeRay operator builds the names of the head and worker pods itself, from a generateName "
        "derived from the cluster and group names, so that several replicas never collide (KubeRay pull "
        "request 587). A `name` or `generateName` in the template's metadata is overwritten or cleared, as "
        "the Ray guide on RayCluster configuration notes; anyone relying on it (a script looking pods up by "
        "that name) is in for a surprise. Labels and annotations in the template's metadata do reach the "
        "pods.",
    .example =
        "workerGroupSpecs:\n"
        "- groupName: small\n"
        "  template:\n"
        "    metadata:\n"
        "      name: my-worker\n"
        "    spec:\n"
        "      containers:\n"
        "      - name: ray-worker\n"
        "        image: rayproject/ray:2.9.0\n",
    .fix =
        "Remove the name; select the pods by label instead (KubeRay sets `ray.io/cluster`, `ray.io/group` "
        "and `ray.io/node-type` on every Ray pod):\n\n"
        "  template:\n"
        "    metadata:\n"
        "      labels:\n"
        "        app: my-worker\n",
    .mutation_doc = "",
    .check = check,
};

}  // namespace ray_admission::checks
