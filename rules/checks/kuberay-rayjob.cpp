// kuberay-rayjob: the RayJob-level settings of a RayJob (and of a RayCronJob's jobTemplate) are
// ones KubeRay accepts, and so is a RayCronJob's schedule.
#include "kuberay.h"

#include <yaml-cpp/yaml.h>

#include <array>
#include <map>
#include <vector>

namespace ray_admission::checks {

namespace {

using namespace kuberay;

// --- runtimeEnvYAML: KubeRay unmarshals it into a map, so it must be YAML holding a mapping. ---

bool runtime_env_is_mapping(const std::string& yaml) {
  try {
    YAML::Node n = YAML::Load(yaml);
    return n.IsNull() || n.IsMap();
  } catch (const YAML::Exception&) {
    return false;
  }
}

// --- A standard 5-field cron schedule, as KubeRay parses it (robfig/cron's ParseStandard). ---

struct CronField {
  int min;
  int max;
  const std::map<std::string, int, std::less<>>* names;
};

const std::map<std::string, int, std::less<>> kMonths = {{"jan", 1}, {"feb", 2},  {"mar", 3},  {"apr", 4},
                                                         {"may", 5}, {"jun", 6},  {"jul", 7},  {"aug", 8},
                                                         {"sep", 9}, {"oct", 10}, {"nov", 11}, {"dec", 12}};
const std::map<std::string, int, std::less<>> kDays = {{"sun", 0}, {"mon", 1}, {"tue", 2}, {"wed", 3},
                                                       {"thu", 4}, {"fri", 5}, {"sat", 6}};

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    std::size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

// Go's strconv.Atoi for a non-negative cron number (an optional '+', then digits).
std::optional<long long> cron_int(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty() || s.size() > 12) return std::nullopt;
  long long n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

std::optional<long long> cron_value(std::string_view s, const CronField& f) {
  if (f.names != nullptr) {
    std::string lower(s);
    for (char& c : lower) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    if (auto it = f.names->find(lower); it != f.names->end()) return it->second;
  }
  return cron_int(s);
}

bool cron_range_ok(std::string_view expr, const CronField& f) {
  const auto range_and_step = split(expr, '/');
  if (range_and_step.size() > 2) return false;
  const auto low_high = split(range_and_step[0], '-');
  long long start = 0;
  long long end = 0;
  if (low_high[0] == "*" || low_high[0] == "?") {
    start = f.min;
    end = f.max;
  } else {
    auto s = cron_value(low_high[0], f);
    if (!s) return false;
    start = end = *s;
    if (low_high.size() == 2) {
      auto e = cron_value(low_high[1], f);
      if (!e) return false;
      end = *e;
    } else if (low_high.size() > 2) {
      return false;
    }
  }
  if (range_and_step.size() == 2) {
    auto step = cron_int(range_and_step[1]);
    if (!step || *step == 0) return false;
    if (low_high.size() == 1) end = f.max;
  }
  return start >= f.min && end <= f.max && start <= end;
}

bool cron_schedule_ok(std::string_view spec) {
  if (spec.empty()) return false;
  if (spec.front() == '@') {
    static constexpr std::array<std::string_view, 7> kDescriptors = {"@yearly", "@annually", "@monthly", "@weekly",
                                                                     "@daily",  "@midnight", "@hourly"};
    for (std::string_view d : kDescriptors) {
      if (spec == d) return true;
    }
    constexpr std::string_view kEvery = "@every ";
    if (spec.substr(0, kEvery.size()) == kEvery) return go_duration_sign(spec.substr(kEvery.size())).has_value();
    return false;
  }
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < spec.size()) {
    while (i < spec.size() && (spec[i] == ' ' || spec[i] == '\t' || spec[i] == '\n' || spec[i] == '\r')) ++i;
    std::size_t start = i;
    while (i < spec.size() && !(spec[i] == ' ' || spec[i] == '\t' || spec[i] == '\n' || spec[i] == '\r')) ++i;
    if (i > start) fields.push_back(spec.substr(start, i - start));
  }
  if (fields.size() != 5) return false;
  const std::array<CronField, 5> kinds = {CronField{0, 59, nullptr}, CronField{0, 23, nullptr},
                                          CronField{1, 31, nullptr}, CronField{1, 12, &kMonths},
                                          CronField{0, 6, &kDays}};
  for (std::size_t f = 0; f < 5; ++f) {
    for (std::string_view expr : split(fields[f], ',')) {
      if (!cron_range_ok(expr, kinds[f])) return false;
    }
  }
  return true;
}

// --- The checks of KubeRay's ValidateRayJobSpec, on a RayJobSpec at `spec_ptr`. ---

void check_job_spec(const Workload& w, const Json* spec, const std::string& spec_ptr, Reporter& r) {
  const std::string verdict = controller_verdict(w);
  auto field_ptr = [&](std::string_view name) { return spec_ptr + "/" + std::string(name); };
  auto say = [&](std::string_view name, const std::string& what) {
    const std::string ptr = field_ptr(name);
    r.report(ptr, verdict + ": " + dotted(ptr) + " " + what);
  };

  const bool suspend = flag(member(spec, "suspend"));
  const bool shutdown = flag(member(spec, "shutdownAfterJobFinishes"));
  const Json* selector = member(spec, "clusterSelector");
  const bool selector_mode = non_empty(selector);
  const Json* cluster_spec = member(spec, "rayClusterSpec");
  if (cluster_spec != nullptr && cluster_spec->is_null()) cluster_spec = nullptr;
  const std::string_view mode = text(member(spec, "submissionMode"));
  auto backoff = integer(member(spec, "backoffLimit"));

  if (suspend && !shutdown) {
    say("suspend",
        "is true without shutdownAfterJobFinishes: true; only a RayJob that deletes its cluster can be "
        "suspended, so set shutdownAfterJobFinishes: true");
  }
  auto ttl = integer(member(spec, "ttlSecondsAfterFinished"));
  if (ttl && *ttl < 0) {
    say("ttlSecondsAfterFinished", "is " + std::to_string(*ttl) + "; use 0 or more seconds");
  } else if (ttl && *ttl > 0 && !shutdown) {
    say("ttlSecondsAfterFinished",
        "is set without shutdownAfterJobFinishes: true, so no cluster deletion is delayed; set "
        "shutdownAfterJobFinishes: true or remove it");
  }
  if (selector_mode && suspend) {
    say("suspend", "cannot be used with clusterSelector (the RayJob does not own that cluster); remove suspend");
  }
  if (cluster_spec == nullptr && !selector_mode) {
    r.report(spec_ptr, verdict + ": " + dotted(spec_ptr) +
                           " sets neither rayClusterSpec nor clusterSelector; describe a cluster to create or "
                           "select an existing one");
  }
  if (selector_mode) {
    if (cluster_spec != nullptr) {
      // Not refused by KubeRay, but the cluster spec is silently ignored.
      const std::string ptr = field_ptr("rayClusterSpec");
      r.advise(ptr, "KubeRay would ignore " + dotted(ptr) +
                        ": clusterSelector is also set, so the job runs on the selected cluster; remove one of them");
    }
    if (text(member(selector, "ray.io/cluster")).empty()) {
      const std::string ptr = field_ptr("clusterSelector");
      r.report(ptr, verdict + ": " + dotted(ptr) +
                        " does not name a cluster; set its ray.io/cluster key to the RayCluster's name");
    }
    if (mode == "SidecarMode") {
      say("submissionMode",
          "is SidecarMode, which cannot run on a cluster chosen by clusterSelector; use "
          "K8sJobMode or HTTPMode");
    }
    if (backoff && *backoff > 0) {
      say("backoffLimit", "cannot retry a job on a cluster chosen by clusterSelector; set backoffLimit: 0");
    }
  }
  if (mode == "InteractiveMode" && backoff && *backoff > 0) {
    say("backoffLimit", "cannot be used with submissionMode InteractiveMode; set backoffLimit: 0");
  }
  if (mode == "SidecarMode") {
    if (member(spec, "submitterPodTemplate") != nullptr && !member(spec, "submitterPodTemplate")->is_null()) {
      say("submitterPodTemplate", "is not supported in SidecarMode; remove it or use K8sJobMode");
    }
    if (member(spec, "submitterConfig") != nullptr && !member(spec, "submitterConfig")->is_null()) {
      say("submitterConfig", "is not supported in SidecarMode; remove it or use K8sJobMode");
    }
    const Group* head = w.head();
    if (cluster_spec != nullptr && head != nullptr) {
      const std::string_view policy = text(member(head->pod_spec, "restartPolicy"));
      if (!policy.empty() && policy != "Never") {
        const std::string ptr = head->pod_spec_ptr + "/restartPolicy";
        r.report(ptr, verdict + ": " + dotted(ptr) + " is " + quote(policy, 12) +
                          ", but SidecarMode needs the head never restarted; set restartPolicy: Never or remove it");
      }
    }
  }
  if (const Json* env = member(spec, "runtimeEnvYAML"); env != nullptr && env->is_string()) {
    if (!runtime_env_is_mapping(env->get_ref<const std::string&>())) {
      say("runtimeEnvYAML",
          "is not a YAML mapping (KubeRay cannot read it as a runtime environment); fix its "
          "YAML so that it holds keys such as pip or env_vars");
    }
  }
  if (auto d = integer(member(spec, "activeDeadlineSeconds")); d && *d <= 0) {
    say("activeDeadlineSeconds", "is " + std::to_string(*d) + "; use a positive number of seconds");
  }
  if (auto d = integer(member(spec, "preRunningDeadlineSeconds")); d && *d <= 0) {
    say("preRunningDeadlineSeconds", "is " + std::to_string(*d) + "; use a positive number of seconds");
  }
  if (backoff && *backoff < 0) {
    say("backoffLimit", "is " + std::to_string(*backoff) + "; use 0 or more retries");
  }
}

// --- KubeRay's ValidateRayCronJobSpec, beyond the name (kuberay-name) and the job template. ---

void check_cron(const Workload& w, const Json* spec, Reporter& r) {
  const std::string verdict = controller_verdict(w);
  const Json* schedule = member(spec, "schedule");
  const std::string sched_ptr = "/spec/schedule";
  if (schedule != nullptr && schedule->is_string()) {
    const std::string& s = schedule->get_ref<const std::string&>();
    if (s.find("TZ") != std::string::npos) {
      r.report(sched_ptr,
               verdict + ": " + dotted(sched_ptr) + " names a time zone (TZ or CRON_TZ); move it to spec.timeZone");
    } else if (!cron_schedule_ok(s)) {
      r.report(sched_ptr, verdict + ": " + dotted(sched_ptr) + " " + quote(s) +
                              " is not a valid cron schedule; use five fields (minute hour day month weekday) or "
                              "a descriptor such as @daily");
    }
  }
  const Json* tz = member(spec, "timeZone");
  if (tz != nullptr && tz->is_string() && tz->get_ref<const std::string&>().empty()) {
    const std::string ptr = "/spec/timeZone";
    r.report(ptr, verdict + ": " + dotted(ptr) +
                      " is empty; name a zone such as Europe/Paris, or remove it to use the operator's zone");
  }
}

void check(const Workload& w, Reporter& r) {
  const Json* spec = member(w.object, "spec");
  if (w.kind == Kind::RayJob) {
    if (spec != nullptr && spec->is_object()) check_job_spec(w, spec, "/spec", r);
  } else if (w.kind == Kind::RayCronJob) {
    if (spec == nullptr || !spec->is_object()) return;
    check_cron(w, spec, r);
    const Json* job = member(spec, "jobTemplate");
    if (job != nullptr && job->is_object()) check_job_spec(w, job, "/spec/jobTemplate", r);
  }
}

}  // namespace

extern const RuleInfo kuberay_rayjob{
    .name = "kuberay-rayjob",
    .default_action = Action::Deny,
    .mutation = Mutation::None,
    .origin = Origin::KubeRayController,
    .summary =
        "A RayJob (or a RayCronJob's job template) uses a combination of settings KubeRay accepts, and a "
        "RayCronJob's schedule parses.",
    .why =
        "KubeRay's RayJob controller validates the job only when it reconciles it, then marks an invalid "
        "one as failed without creating anything. It refuses a job with neither `rayClusterSpec` nor "
        "`clusterSelector`; `suspend` without `shutdownAfterJobFinishes` (or with `clusterSelector`); a "
        "negative `ttlSecondsAfterFinished`, or a positive one without `shutdownAfterJobFinishes`; a "
        "`clusterSelector` without a `ray.io/cluster` name, or combined with SidecarMode or retries; "
        "retries in InteractiveMode; a submitter template or config, or a head `restartPolicy` other than "
        "Never, in SidecarMode; a `runtimeEnvYAML` that is not a YAML mapping; non-positive deadlines; and "
        "a negative `backoffLimit`. The RayCronJob controller applies the same checks to its "
        "`jobTemplate` and also refuses a schedule that is not a standard cron expression or that embeds "
        "a time zone. With both `rayClusterSpec` and `clusterSelector`, KubeRay silently ignores the "
        "former: that case is a warning.",
    .example =
        "apiVersion: ray.io/v1\n"
        "kind: RayJob\n"
        "spec:\n"
        "  entrypoint: python train.py\n"
        "  ttlSecondsAfterFinished: 600\n"
        "  rayClusterSpec: {...}\n",
    .fix =
        "Let the cluster be deleted after the job, so that the TTL has something to delay:\n\n"
        "  spec:\n"
        "    entrypoint: python train.py\n"
        "    shutdownAfterJobFinishes: true\n"
        "    ttlSecondsAfterFinished: 600\n",
    .mutation_doc = "",
    .check = check,
};

}  // namespace ray_admission::checks
