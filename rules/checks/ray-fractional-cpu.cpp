// ray-fractional-cpu: a fractional CPU limit is rounded before Ray sees it, unless num-cpus says otherwise.
#include "../json_pointer.h"
#include "../quantity.h"
#include "../rule.h"
#include "values.h"

#include <cmath>

namespace ray_admission::checks {

namespace {

void check(const Workload& w, Reporter& r) {
  for (const Group& g : w.groups) {
    if (g.param("num-cpus")) continue;
    const Json* c = g.container();
    const Json* resources = member(c, "resources");
    std::string ptr = g.container_ptr() + "/resources/limits/cpu";
    const Json* cpu = member(member(resources, "limits"), "cpu");
    if ((cpu == nullptr || cpu->is_null()) && w.kuberay) {
      // KubeRay falls back to the CPU request when there is no limit, and rounds it the same way.
      cpu = member(member(resources, "requests"), "cpu");
      ptr = g.container_ptr() + "/resources/requests/cpu";
    }
    if (cpu == nullptr) continue;
    auto q = quantity_of(*cpu);
    if (!q || q->is_negative() || q->is_integer()) continue;
    const double value = q->to_double();
    const std::string rounded =
        value < 1e15 ? std::to_string(static_cast<long long>(std::ceil(value))) : "a whole number";
    const std::string param = w.kuberay ? "set rayStartParams.num-cpus" : "pass --num-cpus";
    r.report(ptr, pointer::to_dotted(ptr) + " is " + text_of(*cpu) + ", a fraction of a CPU: " +
                      (w.kuberay ? "KubeRay rounds it up to " + rounded + " for Ray"
                                 : std::string("Ray rounds it to a whole number")) +
                      "; use a whole number or " + param);
  }
}

}  // namespace

extern const RuleInfo ray_fractional_cpu{
    .name = "ray-fractional-cpu",
    .default_action = Action::Warn,
    .mutation = Mutation::None,
    .origin = Origin::RayDocs,
    .summary = "The Ray container's CPU limit is a whole number, or num-cpus states the CPU count.",
    .why =
        "Ray only deals in whole CPUs when it learns a node's size from Kubernetes: the CPU count taken "
        "from the container limit is rounded to an integer before it reaches Ray (KubeRay rounds up, so "
        "`500m` becomes 1 CPU and `2.5` becomes 3). Ray then schedules more work than the container may "
        "use, and the pod is throttled. For KubeRay templates without a CPU limit, KubeRay uses the CPU "
        "request the same way, so a fractional request is checked too. Setting `num-cpus` (the "
        "rayStartParams entry, or `--num-cpus` of a static `ray start`) makes the count explicit and "
        "silences the rule.",
    .example =
        "rayStartParams: {}\n"
        "template:\n"
        "  spec:\n"
        "    containers:\n"
        "    - name: ray-worker\n"
        "      image: rayproject/ray:2.9.0\n"
        "      resources:\n"
        "        limits:\n"
        "          cpu: 1500m\n"
        "          memory: 4Gi\n",
    .fix =
        "Use a whole number of CPUs:\n\n"
        "  resources:\n"
        "    limits:\n"
        "      cpu: \"2\"\n"
        "      memory: 4Gi\n\n"
        "or keep the fraction and state the count Ray should use:\n\n"
        "  rayStartParams:\n"
        "    num-cpus: \"1\"\n",
    .mutation_doc = "",
    .check = check,
};

}  // namespace ray_admission::checks
