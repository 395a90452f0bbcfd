// ray-gpu-params: num-gpus agrees with the GPUs the Ray container is given.
#include "../json_pointer.h"
#include "../quantity.h"
#include "../rule.h"
#include "values.h"

#include <cctype>

namespace ray_admission::checks {

namespace {

// A GPU resource, as KubeRay recognises one when it fills in num-gpus: a name ending in "gpu"
// (nvidia.com/gpu, amd.com/gpu) or an NVIDIA MIG slice, nvidia.com/mig-<N>g.<M>gb.
bool is_gpu(std::string_view name) {
  if (name.size() >= 3 && name.substr(name.size() - 3) == "gpu") return true;
  constexpr std::string_view mig = "nvidia.com/mig-";
  if (name.substr(0, mig.size()) != mig) return false;
  std::string_view rest = name.substr(mig.size());
  auto digits = [&rest] {
    std::size_t n = 0;
    while (n < rest.size() && std::isdigit(static_cast<unsigned char>(rest[n]))) ++n;
    rest.remove_prefix(n);
    return n > 0;
  };
  auto literal = [&rest](std::string_view s) {
    if (rest.substr(0, s.size()) != s) return false;
    rest.remove_prefix(s.size());
    return true;
  };
  return digits() && literal("g.") && digits() && literal("gb") && rest.empty();
}

// A value as the message shows it, cut short so that the message stays under 256 characters.
std::string clip(const std::string& s) { return s.size() > 40 ? s.substr(0, 37) + "..." : s; }
std::string shown(const Json& v) { return clip(v.is_string() ? v.get<std::string>() : v.dump()); }

void check(const Workload& w, Reporter& r) {
  for (const Group& g : w.groups) {
    auto num_gpus = g.param("num-gpus");
    if (!num_gpus) continue;
    auto wanted = Quantity::parse(num_gpus->text);
    if (!wanted) continue;  // not a number: ray-resource-params-format's business, or an environment variable
    const Json* limits = member(member(g.container(), "resources"), "limits");
    if (limits == nullptr || !limits->is_object()) continue;
    // Every GPU resource of the container: all of them are visible to the processes Ray starts.
    long long total = 0;
    std::string ptr;   // the GPU limit when there is one, else the limits map
    std::string held;  // what the message says the container holds
    int count = 0;
    bool readable = true;
    for (auto it = limits->begin(); it != limits->end(); ++it) {
      if (!is_gpu(it.key()) || it.value().is_null()) continue;
      auto q = quantity_of(it.value());
      auto n = q ? q->to_integer() : std::nullopt;
      if (!n || *n < 0 || *n > 1'000'000) {
        readable = false;  // extended resources are small whole numbers; the API server rejects the rest
        break;
      }
      total += *n;
      ptr = pointer::child(g.container_ptr() + "/resources/limits", it.key());
      held = "is " + shown(it.value());
      ++count;
    }
    if (!readable || count == 0 || *wanted == Quantity::from_integer(total)) continue;
    if (count > 1) {
      ptr = g.container_ptr() + "/resources/limits";
      held = "holds " + std::to_string(total) + " GPUs in all";
    }
    const std::string param = num_gpus->is_flag() ? "--num-gpus is " + clip(num_gpus->text)
                                                  : "rayStartParams.num-gpus is \"" + clip(num_gpus->text) + "\"";
    const std::string drop =
        w.kuberay ? "drop num-gpus to let KubeRay derive it" : "drop --num-gpus to let Ray detect them";
    r.report(ptr, pointer::to_dotted(ptr) + " " + held + " but " + param +
                      ": Ray schedules GPU work by the latter; make them equal or " + drop);
  }
}

}  // namespace

extern const RuleInfo ray_gpu_params{
    .name = "ray-gpu-params",
    .default_action = Action::Warn,
    .mutation = Mutation::None,
    .origin = Origin::RayDocs,
    .summary = "num-gpus agrees with the Ray container's GPU limit.",
    .why =
        "Ray schedules GPU tasks and actors by the GPU count the node advertises, which is `num-gpus` when "
        "it is given; the GPUs the pod actually gets are the ones its resource limit asks the device plugin "
        "for. When the two disagree, Ray either places more GPU work on the pod than it has GPUs (tasks fail "
        "or share a device) or leaves GPUs it was given idle. The Ray guide on RayCluster configuration sets "
        "GPUs through the container limit (`nvidia.com/gpu`) and `num-gpus` for Ray. GPU resources are the "
        "names KubeRay treats as GPUs: any name ending in `gpu` (nvidia.com/gpu, amd.com/gpu) and NVIDIA MIG "
        "slices (`nvidia.com/mig-1g.5gb`); when a container has several, their sum is compared. A `num-gpus` "
        "that is not a plain number (an environment variable) is not judged, and a `num-gpus` without any "
        "GPU limit is left alone.",
    .example =
        "workerGroupSpecs:\n"
        "- groupName: gpu\n"
        "  rayStartParams:\n"
        "    num-gpus: \"2\"\n"
        "  template:\n"
        "    spec:\n"
        "      containers:\n"
        "      - name: ray-worker\n"
        "        image: rayproject/ray:2.9.0-gpu\n"
        "        resources:\n"
        "          limits:\n"
        "            nvidia.com/gpu: 4\n",
    .fix =
        "Make them agree, or leave `num-gpus` out and let KubeRay derive it from the limit:\n\n"
        "  rayStartParams:\n"
        "    num-gpus: \"4\"\n",
    .mutation_doc = "",
    .check = check,
};

}  // namespace ray_admission::checks
