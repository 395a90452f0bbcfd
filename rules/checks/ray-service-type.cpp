// ray-service-type: the head Service type is one KubeRay can create.
#include "../json_pointer.h"
#include "../rule.h"

namespace ray_admission::checks {

namespace {

void check(const Workload& w, Reporter& r) {
  const Group* head = w.head();
  if (!w.kuberay || head == nullptr) return;
  const Json* type = member(head->spec, "serviceType");
  if (type == nullptr || type->is_null()) return;
  if (type->is_string()) {
    const std::string& t = type->get_ref<const std::string&>();
    if (t == "ClusterIP" || t == "NodePort" || t == "LoadBalancer") return;
  }
  const std::string ptr = head->spec_ptr + "/serviceType";
  std::string shown = type->dump();
  if (shown.size() > 40) shown = shown.substr(0, 37) + "...";
  r.report(ptr, pointer::to_dotted(ptr) + " is " + shown +
                    ", which KubeRay cannot create the head Service with: use ClusterIP, NodePort or LoadBalancer");
}

}  // namespace

extern const RuleInfo ray_service_type{
    .name = "ray-service-type",
    .default_action = Action::Deny,
    .mutation = Mutation::None,
    .origin = Origin::RayDocs,
    .summary = "headGroupSpec.serviceType is ClusterIP, NodePort or LoadBalancer.",
    .why =
        "KubeRay copies `headGroupSpec.serviceType` into the head Service it creates. The Ray guide on "
        "RayCluster configuration lists ClusterIP, NodePort and LoadBalancer as the choices; the CRD takes "
        "any string, so a typo such as `Clusterip` or a type like `ExternalName` (which has no selector and "
        "no ports) is accepted by the API server and only fails when the operator tries to create the "
        "Service, leaving a cluster with no head Service: workers, the dashboard and clients cannot reach "
        "the head.",
    .example =
        "headGroupSpec:\n"
        "  serviceType: Clusterip\n",
    .fix =
        "Use one of the three types, spelled exactly (or leave the field out for ClusterIP):\n\n"
        "  headGroupSpec:\n"
        "    serviceType: ClusterIP\n",
    .mutation_doc = "",
    .check = check,
};

}  // namespace ray_admission::checks
