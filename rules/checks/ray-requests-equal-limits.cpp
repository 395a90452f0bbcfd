// ray-requests-equal-limits: Ray sizes a node by its container's limits, so requests should match them.
#include "../json_pointer.h"
#include "../quantity.h"
#include "../rule.h"
#include "values.h"

namespace ray_admission::checks {

namespace {

// The resources Ray turns into node capacity: cpu, memory, and extended resources (a domain-prefixed
// name such as nvidia.com/gpu, amd.com/gpu, google.com/tpu). ephemeral-storage and hugepages-* are
// left out: Ray does not advertise them, and Kubernetes already requires hugepages requests to equal
// their limits.
bool compared(std::string_view name) {
  return name == "cpu" || name == "memory" || name.find('/') != std::string_view::npos;
}

void check(const Workload& w, Reporter& r) {
  for (const Group& g : w.groups) {
    const Json* c = g.container();
    const Json* resources = member(c, "resources");
    const Json* requests = member(resources, "requests");
    if (requests == nullptr || !requests->is_object()) continue;
    const Json* limits = member(resources, "limits");
    for (auto it = requests->begin(); it != requests->end(); ++it) {
      if (!compared(it.key()) || it.value().is_null()) continue;
      // The pointer is built only for a finding: most requests match their limits.
      auto request_ptr = [&] { return pointer::child(g.container_ptr() + "/resources/requests", it.key()); };
      const Json* limit = member(limits, it.key());
      if (limit == nullptr || limit->is_null()) {
        const std::string rptr = request_ptr();
        r.report(rptr, pointer::to_dotted(rptr) +
                           " has no matching limit: Ray ignores requests, and the container may " +
                           "use more than it reserved; set " + pointer::to_dotted(pointer::child("/limits", it.key())) +
                           " to the same value");
        continue;
      }
      auto req_q = quantity_of(it.value());
      auto lim_q = quantity_of(*limit);
      if (!req_q || !lim_q || *req_q == *lim_q) continue;  // unparsable values are the API server's to reject
      const std::string rptr = request_ptr();
      r.report(rptr,
               pointer::to_dotted(rptr) + " (" + text_of(it.value()) + ") differs from its limit (" + text_of(*limit) +
                   "): Ray sizes the node by the limit; set the request equal to the limit",
               replace_op(rptr, *limit));
    }
  }
}

}  // namespace

extern const RuleInfo ray_requests_equal_limits{
    .name = "ray-requests-equal-limits",
    .default_action = Action::Warn,
    .mutation = Mutation::OffByDefault,
    .origin = Origin::RayDocs,
    .summary =
        "The Ray container requests exactly what it limits, for cpu, memory and extended resources such as "
        "nvidia.com/gpu.",
    .why =
        "Ray reads the CPU, GPU and memory limits of the Ray container and advertises them as the node's "
        "logical capacity; requests play no part in it. When a request is lower than its limit, Kubernetes "
        "may place the pod on a node that cannot actually supply what Ray will schedule onto it, and the pod "
        "can be throttled or evicted under pressure. The Ray guide on RayCluster configuration therefore "
        "recommends requests equal to limits wherever possible. Resources compared: cpu, memory and every "
        "extended resource (a name with a domain, such as nvidia.com/gpu or google.com/tpu); "
        "ephemeral-storage and hugepages-* are not, since Ray does not advertise them. Quantities are "
        "compared by value, so `1` equals `1000m` and `1Gi` equals `1073741824`. A request without any "
        "limit also trips the rule. This is a warning by default (most official KubeRay samples give the "
        "head less memory than its limit); the strict profile makes it deny.",
    .example =
        "containers:\n"
        "- name: ray-worker\n"
        "  image: rayproject/ray:2.9.0\n"
        "  resources:\n"
        "    limits:\n"
        "      cpu: \"4\"\n"
        "      memory: 16Gi\n"
        "    requests:\n"
        "      cpu: 500m\n"
        "      memory: 16Gi\n",
    .fix =
        "Request what the container is limited to (or drop `requests`: Kubernetes then defaults them to "
        "the limits):\n\n"
        "  resources:\n"
        "    limits:\n"
        "      cpu: \"4\"\n"
        "      memory: 16Gi\n"
        "    requests:\n"
        "      cpu: \"4\"\n"
        "      memory: 16Gi\n",
    .mutation_doc =
        "Opt-in (off by default, since it raises what the pod reserves on its node): each request that "
        "differs from its limit is replaced by the limit's value. A request that has no limit is left "
        "alone and keeps warning.",
    .check = check,
};

}  // namespace ray_admission::checks
