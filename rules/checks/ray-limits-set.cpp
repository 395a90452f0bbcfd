// ray-limits-set: the Ray container states its CPU and memory limits, which Ray takes as the node's size.
#include "../json_pointer.h"
#include "../rule.h"

namespace ray_admission::checks {

namespace {

bool has(const Json* limits, std::string_view key) {
  const Json* v = member(limits, key);
  return v != nullptr && !v->is_null();
}

void check(const Workload& w, Reporter& r) {
  for (const Group& g : w.groups) {
    const Json* c = g.container();
    if (c == nullptr || !c->is_object()) continue;
    const Json* resources = member(c, "resources");
    const Json* limits = member(resources, "limits");
    // An explicit num-cpus / memory parameter is what Ray advertises instead of the limit.
    const bool cpu = has(limits, "cpu") || g.param("num-cpus").has_value();
    const bool memory = has(limits, "memory") || g.param("memory").has_value();
    if (cpu && memory) continue;
    // The most precise place that exists: the limits map, else resources, else the container.
    std::string ptr = g.container_ptr();
    if (resources != nullptr && resources->is_object()) {
      ptr += "/resources";
      if (limits != nullptr && limits->is_object()) ptr += "/limits";
    }
    const std::string what = !cpu && !memory ? "cpu and memory limits" : !cpu ? "cpu limit" : "memory limit";
    const std::string keys = !cpu && !memory ? "limits.cpu and limits.memory" : !cpu ? "limits.cpu" : "limits.memory";
    r.report(ptr, pointer::to_dotted(g.container_ptr()) + " has no " + what +
                      ": Ray takes the node's capacity from the limits and otherwise sees the whole host; set " + keys);
  }
}

}  // namespace

extern const RuleInfo ray_limits_set{
    .name = "ray-limits-set",
    .default_action = Action::Warn,
    .mutation = Mutation::None,
    .origin = Origin::RayDocs,
    .summary = "The Ray container has both a cpu and a memory limit.",
    .why =
        "Ray advertises the Ray container's CPU and memory limits to its scheduler and autoscaler as the "
        "node's capacity. Without a limit, Ray falls back to what it can detect, which is often the whole "
        "Kubernetes node, and then schedules more tasks and actors onto the pod than Kubernetes reserved for "
        "it: the pod is throttled, or killed when it runs out of memory. The Ray guide on RayCluster "
        "configuration asks for CPU and memory requests and limits on every group. A limit is not required "
        "when Ray is told the count another way: `num-cpus` stands in for the cpu limit and `memory` for the "
        "memory limit (rayStartParams, or the flags of a static `ray start`).",
    .example =
        "containers:\n"
        "- name: ray-worker\n"
        "  image: rayproject/ray:2.9.0\n"
        "  resources:\n"
        "    requests:\n"
        "      cpu: \"4\"\n"
        "      memory: 16Gi\n",
    .fix =
        "Give the Ray container both limits (ideally equal to the requests):\n\n"
        "  resources:\n"
        "    limits:\n"
        "      cpu: \"4\"\n"
        "      memory: 16Gi\n"
        "    requests:\n"
        "      cpu: \"4\"\n"
        "      memory: 16Gi\n",
    .mutation_doc = "",
    .check = check,
};

}  // namespace ray_admission::checks
