// ray-image-consistency: all Ray containers of one object run the same Ray and Python versions.
#include "../image_ref.h"
#include "../json_pointer.h"
#include "../rule.h"

#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ray_admission::checks {

namespace {

struct Seen {
  const Group* group;                 // its image's pointer is built only for a finding
  std::optional<std::string> ray;     // "2.9.0", when the tag states it
  std::optional<std::string> python;  // "3.10", when the tag has -py310
};

// The value most containers agree on; on a tie, the one seen first (the head comes first).
// nullopt when they do not disagree. Linear in the number of containers: the distinct values are
// looked up in a short list, or, past a few, in a hash map (an object with thousands of groups
// on as many versions would otherwise cost their square).
std::optional<std::string> majority(const std::vector<Seen>& seen, std::optional<std::string> Seen::*field) {
  std::vector<std::pair<std::string_view, std::size_t>> counts;  // distinct values, first seen first
  std::unordered_map<std::string_view, std::size_t> where;       // value -> its place in counts
  constexpr std::size_t kListMax = 8;
  for (const Seen& s : seen) {
    const std::optional<std::string>& v = s.*field;
    if (!v) continue;
    std::size_t at = counts.size();
    if (counts.size() <= kListMax) {
      for (std::size_t i = 0; i < counts.size(); ++i) {
        if (counts[i].first == *v) {
          at = i;
          break;
        }
      }
    } else {
      if (where.empty()) {
        for (std::size_t i = 0; i < counts.size(); ++i) where.emplace(counts[i].first, i);
      }
      at = where.try_emplace(*v, counts.size()).first->second;
    }
    if (at == counts.size()) counts.emplace_back(*v, 0);
    ++counts[at].second;
  }
  if (counts.size() < 2) return std::nullopt;
  std::size_t best = 0;
  for (std::size_t i = 1; i < counts.size(); ++i) {
    if (counts[i].second > counts[best].second) best = i;
  }
  return std::string(counts[best].first);
}

void check(const Workload& w, Reporter& r) {
  std::vector<Seen> seen;
  for (const Group& g : w.groups) {
    const Json* img = member(g.container(), "image");
    if (img == nullptr || !img->is_string()) continue;
    const std::string& image = img->get_ref<const std::string&>();
    if (image.find('$') != std::string::npos) continue;  // filled in by a template tool
    image::Ref ref = image::parse(image);
    if (!image::is_ray_release_image(ref) || ref.tag.empty()) continue;
    Seen s;
    s.group = &g;
    if (auto v = image::leading_version(ref.tag)) s.ray = image::to_string(image::padded(*v));
    s.python = image::python_version(ref.tag);
    seen.push_back(std::move(s));
  }
  auto ray = majority(seen, &Seen::ray);
  auto python = majority(seen, &Seen::python);
  for (const Seen& s : seen) {
    const bool ray_differs = ray && s.ray && *s.ray != *ray;
    const bool python_differs = python && s.python && *s.python != *python;
    if (!ray_differs && !python_differs) continue;
    std::string mine, theirs;
    if (ray_differs) {
      mine = "Ray " + *s.ray;
      theirs = "Ray " + *ray;
    }
    if (python_differs) {
      mine += (mine.empty() ? "" : " and ") + std::string("Python ") + *s.python;
      theirs += (theirs.empty() ? "" : " and ") + std::string("Python ") + *python;
    }
    const std::string image_ptr = s.group->container_ptr() + "/image";
    r.report(image_ptr, pointer::to_dotted(image_ptr) + " has " + mine + " while the other Ray images have " + theirs +
                            ": build every Ray image of the cluster on the same Ray and Python versions");
  }
}

}  // namespace

extern const RuleInfo ray_image_consistency{
    .name = "ray-image-consistency",
    .default_action = Action::Deny,
    .mutation = Mutation::None,
    .origin = Origin::RayDocs,
    .summary = "The Ray images of one cluster agree on the Ray version and on the Python version.",
    .why =
        "Ray compares the Ray and Python versions of every node with the cluster's when the node connects, "
        "and refuses a node that differs; tasks, actors and objects also travel between nodes as pickled "
        "Python, which needs the same Python everywhere. The Ray "
        "guide to RayCluster configuration asks for all Ray images in a cluster to share both versions. The "
        "Ray version is the front of the tag of Ray's own images (`rayproject/ray`, `ray-ml`, `ray-llm`, from "
        "any registry; `2.9` reads as 2.9.0) and the Python version is its `-pyXY` part. An image without a "
        "`-pyXY` part has the image's default Python and is not counted as disagreeing; neither are other "
        "images, whose tags are their owners' own. Each container that differs from the most common version "
        "is reported (on a tie, from the first one, the head).",
    .example =
        "headGroupSpec:\n"
        "  template:\n"
        "    spec:\n"
        "      containers:\n"
        "      - name: ray-head\n"
        "        image: rayproject/ray:2.9.0-py310\n"
        "workerGroupSpecs:\n"
        "- groupName: gpu\n"
        "  template:\n"
        "    spec:\n"
        "      containers:\n"
        "      - name: ray-worker\n"
        "        image: rayproject/ray-ml:2.9.0-py39-gpu\n",
    .fix =
        "Use images of one Ray release built for one Python version:\n\n"
        "        image: rayproject/ray:2.9.0-py310\n"
        "  ...\n"
        "        image: rayproject/ray-ml:2.9.0-py310-gpu\n",
    .mutation_doc = "",
    .check = check,
};

}  // namespace ray_admission::checks
