// kuberay-gcs-ft: GCS fault tolerance is configured one way, through gcsFaultToleranceOptions,
// with no leftovers of the older annotation-and-environment way.
#include "kuberay.h"

namespace ray_admission::checks {

namespace {

using namespace kuberay;

constexpr std::string_view kFtAnnotation = "ray.io/ft-enabled";
constexpr std::string_view kStorageNsAnnotation = "ray.io/external-storage-namespace";

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

void check(const Workload& w, Reporter& r) {
  if (!w.kuberay || w.cluster == nullptr) return;
  const Group* head = w.head();
  const Json* container = head != nullptr ? head->container() : nullptr;
  if (container == nullptr) return;  // kuberay-containers; KubeRay stops before these checks
  const std::string verdict = controller_verdict(w);
  const Json* annotations = cluster_annotations(w);
  const std::string_view ft = text(member(annotations, kFtAnnotation));
  const Json* options = member(w.cluster, "gcsFaultToleranceOptions");
  if (options != nullptr && options->is_null()) options = nullptr;
  const std::string options_path = dotted(w.cluster_ptr + "/gcsFaultToleranceOptions");
  const bool ft_enabled = lower(ft) == "true" || options != nullptr;

  if (!ft.empty() && options != nullptr) {
    const std::string ptr = annotation_ptr(kFtAnnotation);
    r.report(ptr, verdict + ": " + dotted(ptr) + " and " + options_path +
                      " are both set; remove the annotation and keep gcsFaultToleranceOptions");
  }
  const EnvVar redis_address = env_var(container, "RAY_REDIS_ADDRESS");
  if (redis_address && !ft_enabled) {
    const std::string ptr = env_ptr(*head, redis_address);
    r.report(ptr,
             verdict + ": " + dotted(ptr) +
                 " sets RAY_REDIS_ADDRESS but GCS fault tolerance is off; set gcsFaultToleranceOptions.redisAddress "
                 "instead");
  }
  if (options != nullptr) {
    if (auto p = head->param("redis-password"); p && !p->text.empty()) {
      r.report(p->pointer, verdict + ": " + dotted(p->pointer) +
                               " cannot be used with gcsFaultToleranceOptions; set "
                               "gcsFaultToleranceOptions.redisPassword instead");
    }
    if (const EnvVar e = env_var(container, "REDIS_PASSWORD")) {
      const std::string ptr = env_ptr(*head, e);
      r.report(ptr, verdict + ": " + dotted(ptr) +
                        " sets REDIS_PASSWORD alongside gcsFaultToleranceOptions; set "
                        "gcsFaultToleranceOptions.redisPassword instead");
    }
    if (redis_address) {
      const std::string ptr = env_ptr(*head, redis_address);
      r.report(ptr, verdict + ": " + dotted(ptr) +
                        " sets RAY_REDIS_ADDRESS alongside gcsFaultToleranceOptions; set "
                        "gcsFaultToleranceOptions.redisAddress instead");
    }
    if (!text(member(annotations, kStorageNsAnnotation)).empty()) {
      const std::string ptr = annotation_ptr(kStorageNsAnnotation);
      r.report(ptr, verdict + ": " + dotted(ptr) +
                        " cannot be used with gcsFaultToleranceOptions; set "
                        "gcsFaultToleranceOptions.externalStorageNamespace instead");
    }
    // The storage block belongs to the embedded RocksDB backend only; with the default Redis
    // backend KubeRay refuses it. (The RocksDB backend itself is behind a feature gate.)
    const std::string_view backend = text(member(options, "backend"));
    const Json* storage = member(options, "storage");
    if ((backend.empty() || backend == "redis") && storage != nullptr && !storage->is_null()) {
      const std::string ptr = w.cluster_ptr + "/gcsFaultToleranceOptions/storage";
      r.report(ptr, verdict + ": " + dotted(ptr) +
                        " only applies to the rocksdb backend, and the backend is redis; remove storage or set "
                        "backend: rocksdb");
    }
  }
  if (auto p = head->param("redis-username"); p && !p->text.empty()) {
    r.report(p->pointer, verdict + ": " + dotted(p->pointer) +
                             " is not supported; set gcsFaultToleranceOptions.redisUsername instead");
  }
  if (const EnvVar e = env_var(container, "REDIS_USERNAME")) {
    const std::string ptr = env_ptr(*head, e);
    r.report(ptr, verdict + ": " + dotted(ptr) +
                      " sets REDIS_USERNAME, which is not supported; set gcsFaultToleranceOptions.redisUsername "
                      "instead");
  }
}

}  // namespace

extern const RuleInfo kuberay_gcs_ft{
    .name = "kuberay-gcs-ft",
    .default_action = Action::Deny,
    .mutation = Mutation::None,
    .origin = Origin::KubeRayController,
    .summary =
        "GCS fault tolerance is configured through `gcsFaultToleranceOptions` alone, without the older "
        "annotation, environment variables or rayStartParams that conflict with it.",
    .why =
        "KubeRay once turned on GCS fault tolerance with the `ray.io/ft-enabled` annotation plus "
        "`RAY_REDIS_ADDRESS`, `REDIS_PASSWORD` and `redis-password` set by hand on the head. Since "
        "`gcsFaultToleranceOptions` exists, the operator's spec validation refuses any mix of the two: "
        "the annotation together with the options; `RAY_REDIS_ADDRESS` on the head while fault tolerance "
        "is off; `redis-password`, `REDIS_PASSWORD`, `RAY_REDIS_ADDRESS` or the "
        "`ray.io/external-storage-namespace` annotation next to the options; a `storage` block with the "
        "Redis backend; and a Redis user name given anywhere but `gcsFaultToleranceOptions.redisUsername`. "
        "It then stops reconciling the cluster.",
    .example =
        "metadata:\n"
        "  annotations:\n"
        "    ray.io/ft-enabled: \"true\"\n"
        "spec:\n"
        "  gcsFaultToleranceOptions:\n"
        "    redisAddress: redis:6379\n",
    .fix =
        "Keep only the options, with everything Redis needs inside them:\n\n"
        "  spec:\n"
        "    gcsFaultToleranceOptions:\n"
        "      redisAddress: redis:6379\n"
        "      redisPassword:\n"
        "        valueFrom:\n"
        "          secretKeyRef: {name: redis-password-secret, key: password}\n",
    .mutation_doc = "",
    .check = check,
};

}  // namespace ray_admission::checks
