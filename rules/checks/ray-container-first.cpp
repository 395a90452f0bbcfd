// ray-container-first: in a KubeRay pod template the Ray container is listed first.
#include "../image_ref.h"
#include "../json_pointer.h"
#include "../ray_start.h"
#include "../rule.h"

#include <cctype>

namespace ray_admission::checks {

namespace {

std::string string_member(const Json& obj, std::string_view key) {
  const Json* v = member(obj, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

// "ray" at the start of a word of the image name: ray, ray-ml, my-ray, custom_ray; not xray,
// aws-xray-daemon or array.
bool image_name_says_ray(std::string_view name) {
  for (std::size_t at = name.find("ray"); at != std::string::npos; at = name.find("ray", at + 1)) {
    if (at == 0 || std::isalnum(static_cast<unsigned char>(name[at - 1])) == 0) return true;
  }
  return false;
}

// Whether a container looks like it runs Ray: its image, its name, or a `ray start` command.
bool looks_like_ray(const Json& c, const std::string& ptr) {
  if (!c.is_object()) return false;
  if (image_name_says_ray(image::parse(string_member(c, "image")).name)) return true;
  if (string_member(c, "name").rfind("ray", 0) == 0) return true;
  return find_ray_start(c, ptr).has_value();
}

std::string label(const Json& c) {
  std::string name = string_member(c, "name");
  if (name.size() > 40) name = name.substr(0, 37) + "...";
  return name.empty() ? std::string() : " (" + name + ")";
}

void check(const Workload& w, Reporter& r) {
  if (!w.kuberay) return;
  for (const Group& g : w.groups) {
    const Json* cs = g.containers();
    if (cs == nullptr || cs->size() < 2) continue;
    const std::string base = g.containers_ptr();
    const std::string first = pointer::child(base, std::size_t{0});
    if (looks_like_ray((*cs)[0], first)) continue;
    for (std::size_t i = 1; i < cs->size(); ++i) {
      const std::string ptr = pointer::child(base, i);
      if (!looks_like_ray((*cs)[i], ptr)) continue;
      r.report(first,
               pointer::to_dotted(first) + " does not look like Ray but containers[" + std::to_string(i) + "]" +
                   label((*cs)[i]) +
                   " does: KubeRay starts Ray in the first container, so list the Ray container first",
               move_op(ptr, first));
      break;
    }
  }
}

}  // namespace

extern const RuleInfo ray_container_first{
    .name = "ray-container-first",
    .default_action = Action::Deny,
    .mutation = Mutation::OffByDefault,
    .origin = Origin::RayDocs,
    .summary = "The Ray container is the first container of each KubeRay pod template.",
    .why =
        "KubeRay treats `containers[0]` of every head and worker template as the Ray container: that is the "
        "one it gives the `ray start` command, the Ray environment variables and the shared-memory volume. "
        "The Ray guide to RayCluster configuration therefore asks for sidecars (log shippers and the like) to "
        "come after the Ray container. A sidecar listed first gets Ray injected into it, and the real Ray "
        "container never joins the cluster. A container looks like Ray when its image name has a word "
        "starting with `ray` (`rayproject/ray`, `ray-ml`, `my-ray`; not `aws-xray-daemon`), its name starts "
        "with `ray`, or it runs `ray start`.",
    .example =
        "template:\n"
        "  spec:\n"
        "    containers:\n"
        "    - name: fluentbit\n"
        "      image: fluent/fluent-bit:3.2.2\n"
        "    - name: ray-head\n"
        "      image: rayproject/ray:2.9.0\n",
    .fix =
        "List the Ray container first and the sidecars after it:\n\n"
        "  template:\n"
        "    spec:\n"
        "      containers:\n"
        "      - name: ray-head\n"
        "        image: rayproject/ray:2.9.0\n"
        "      - name: fluentbit\n"
        "        image: fluent/fluent-bit:3.2.2\n",
    .mutation_doc =
        "Opt-in (`mutations: {ray-container-first: on}`): the first later container that looks like "
        "Ray is moved to index 0, and the others keep their order behind it. It is off by default "
        "because it reorders what the user wrote, and a container that merely looks like Ray may not be "
        "the one meant to run it.",
    .check = check,
};

}  // namespace ray_admission::checks
