// ray-image-version: the Ray images run the Ray version that spec.rayVersion names.
#include "../image_ref.h"
#include "../json_pointer.h"
#include "../rule.h"

namespace ray_admission::checks {

namespace {

void check(const Workload& w, Reporter& r) {
  if (!w.kuberay || w.cluster == nullptr) return;
  const Json* rv = member(w.cluster, "rayVersion");
  if (rv == nullptr || !rv->is_string()) return;
  const std::string& ray_version = rv->get_ref<const std::string&>();
  auto wanted = image::leading_version(ray_version);
  if (!wanted) return;  // empty or not a version: nothing to compare with
  // Pointers are built only for a finding: most objects have none.
  auto rv_ptr = [&] { return w.cluster_ptr + "/rayVersion"; };
  const Group* first_dev = nullptr;  // the first group with a nightly or development image, if any
  for (const Group& g : w.groups) {
    const Json* c = g.container();
    const Json* img = member(c, "image");
    if (img == nullptr || !img->is_string()) continue;
    const std::string& image = img->get_ref<const std::string&>();
    if (image.find('$') != std::string::npos) continue;  // filled in by a template tool
    image::Ref ref = image::parse(image);
    if (!image::is_ray_release_image(ref) || ref.tag.empty()) continue;  // custom image, or latest / a digest
    if (auto have = image::leading_version(ref.tag)) {
      if (image::prefix_match(*have, *wanted)) continue;
      const std::string iptr = g.container_ptr() + "/image";
      r.report(iptr, pointer::to_dotted(iptr) + " runs Ray " + image::to_string(*have) + " but " +
                         pointer::to_dotted(rv_ptr()) + " is " + image::to_string(*wanted) +
                         ": make the image tag and rayVersion name the same Ray release");
    } else if (image::is_dev_tag(ref.tag) && first_dev == nullptr) {
      first_dev = &g;
    }
  }
  if (first_dev != nullptr) {
    r.advise(rv_ptr(), pointer::to_dotted(first_dev->container_ptr() + "/image") +
                           " is a nightly or development build: set " + pointer::to_dotted(rv_ptr()) +
                           " to the latest Ray release");
  }
}

}  // namespace

extern const RuleInfo ray_image_version{
    .name = "ray-image-version",
    .default_action = Action::Deny,
    .mutation = Mutation::None,
    .origin = Origin::RayDocs,
    .summary = "Each Ray container image runs the Ray release that `spec.rayVersion` names.",
    .why =
        "KubeRay fills in some defaults according to `spec.rayVersion`, and the Ray guide to RayCluster "
        "configuration asks for the Ray image of every group to carry that same version; with a nightly or "
        "development image, rayVersion should name the latest release. The version is read from the front "
        "of the tag of Ray's own images (`rayproject/ray`, `ray-ml` and `ray-llm`, from any registry): "
        "`ray-ml:2.3.0-py310-gpu` is 2.3.0, `my.reg:5000/ray:2.9.0@sha256:...` is 2.9.0. A version with "
        "fewer parts matches on the parts it gives, so rayVersion `2.9` accepts `ray:2.9.3`, while `2.9.0` "
        "does not. Tags without a version (`latest`, a bare digest) and other images, whose tags are their "
        "owners' own versions, are not judged; a `nightly`, `dev` or commit-hash tag only draws a warning to "
        "set rayVersion to the latest release.",
    .example =
        "spec:\n"
        "  rayVersion: \"2.9.0\"\n"
        "  headGroupSpec:\n"
        "    template:\n"
        "      spec:\n"
        "        containers:\n"
        "        - name: ray-head\n"
        "          image: rayproject/ray:2.8.0-py310\n",
    .fix =
        "Use the image of the release rayVersion names (or change rayVersion to the image's release):\n\n"
        "  spec:\n"
        "    rayVersion: \"2.9.0\"\n"
        "    headGroupSpec:\n"
        "      template:\n"
        "        spec:\n"
        "          containers:\n"
        "          - name: ray-head\n"
        "            image: rayproject/ray:2.9.0-py310\n",
    .mutation_doc = "",
    .check = check,
};

}  // namespace ray_admission::checks
