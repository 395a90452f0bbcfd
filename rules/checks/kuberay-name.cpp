// kuberay-name: the object's name fits the Services and RayClusters KubeRay derives from it.
#include "kuberay.h"

namespace ray_admission::checks {

namespace {

using namespace kuberay;

// The longest name KubeRay accepts for each kind. A RayCluster's longest Service suffix
// ("-serve-svc") must fit in 63 characters; a RayJob or RayService adds 6 characters to make
// its RayCluster's name; a RayCronJob adds a suffix to make each RayJob's name.
std::size_t max_length(Kind k) {
  switch (k) {
    case Kind::RayCluster: return 53;
    case Kind::RayJob:
    case Kind::RayService: return 47;
    case Kind::RayCronJob: return 36;
    default: return 0;
  }
}

std::string what_is_derived(Kind k) {
  switch (k) {
    case Kind::RayCluster: return "its Service names would pass 63 characters";
    case Kind::RayJob: return "the RayCluster named after it would be too long";
    case Kind::RayService: return "the RayCluster named after it would be too long";
    case Kind::RayCronJob: return "the RayJobs named after it would be too long";
    default: return "";
  }
}

void check(const Workload& w, Reporter& r) {
  if (!w.kuberay) return;
  std::string_view name = w.name();
  if (name.empty()) return;  // generateName: the API server picks the name later
  const std::string ptr = "/metadata/name";
  const bool cron = w.kind == Kind::RayCronJob;
  const std::string verdict = "KubeRay would reject this " + std::string(to_string(w.kind));
  const std::size_t max = max_length(w.kind);
  if (name.size() > max) {
    r.report(ptr, (cron ? controller_verdict(w) : verdict) + ": metadata.name is " + std::to_string(name.size()) +
                      " characters, over the limit of " + std::to_string(max) + " (" + what_is_derived(w.kind) +
                      "); use a shorter name");
  }
  if (!is_dns1035_label(name)) {
    // KubeRay checks a RayCronJob's name only for length, but each RayJob it creates is named
    // after it and must be a DNS-1035 label.
    r.report(ptr, (cron ? std::string("KubeRay would fail every RayJob this RayCronJob creates") : verdict) +
                      ": metadata.name " + quote(name) +
                      " is not a DNS-1035 label; use lower-case letters, digits and '-', starting with a letter");
  }
}

}  // namespace

extern const RuleInfo kuberay_name{
    .name = "kuberay-name",
    .default_action = Action::Deny,
    .mutation = Mutation::None,
    .origin = Origin::KubeRayWebhook,
    .summary = "The name of a RayCluster, RayJob, RayService or RayCronJob is short enough and a DNS-1035 label.",
    .why =
        "KubeRay names the Services, Pods and RayClusters it creates after the object. Its webhook and its "
        "controllers refuse a RayCluster name longer than 53 characters (the longest Service suffix, "
        "`-serve-svc`, must still fit in 63) and a RayJob or RayService name longer than 47 (their RayCluster "
        "gets a 6-character suffix); the RayCronJob controller stops at 36 so that its RayJobs' names stay "
        "valid. The name must also be a DNS-1035 label, since it ends up in Service names. Without the "
        "optional webhook the API server accepts such an object and the operator only records an event.",
    .example =
        "apiVersion: ray.io/v1\n"
        "kind: RayJob\n"
        "metadata:\n"
        "  name: nightly-feature-extraction-for-the-recommendation-model\n",
    .fix =
        "Pick a name within the limit (53 for a RayCluster, 47 for a RayJob or RayService, 36 for a "
        "RayCronJob) made of lower-case letters, digits and '-', starting with a letter:\n\n"
        "  metadata:\n"
        "    name: nightly-features\n",
    .mutation_doc = "",
    .check = check,
};

}  // namespace ray_admission::checks
