// kuberay-autoscaler: the autoscaler settings of a cluster agree with each other.
#include "kuberay.h"

#include <vector>

namespace ray_admission::checks {

namespace {

using namespace kuberay;

constexpr std::string_view kV2Env = "RAY_enable_autoscaler_v2";
constexpr std::string_view kStartCmdEnv = "KUBERAY_GEN_AUTOSCALER_START_CMD";

bool truthy(std::string_view v) { return v == "1" || v == "true"; }

// A version read the way KubeRay reads rayVersion (a "generic" version: optional 'v', at least
// two dot-separated numbers, anything after them ignored). Empty when it does not parse.
std::vector<long long> generic_version(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  if (i < s.size() && s[i] == 'v') ++i;
  std::vector<long long> parts;
  while (true) {
    std::size_t start = i;
    long long n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 18) n = n * 10 + (s[i++] - '0');
    if (i == start) return parts.size() >= 2 ? parts : std::vector<long long>{};
    parts.push_back(n);
    if (i + 1 < s.size() && s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9') {
      ++i;
      continue;
    }
    return parts.size() >= 2 ? parts : std::vector<long long>{};
  }
}

bool older_than(const std::vector<long long>& v, const std::vector<long long>& min) {
  for (std::size_t i = 0; i < min.size(); ++i) {
    long long a = i < v.size() ? v[i] : 0;
    if (a != min[i]) return a < min[i];
  }
  return false;
}

void check_restart_policy(const Group& g, const std::string& verdict, Reporter& r) {
  const std::string_view policy = text(member(g.pod_spec, "restartPolicy"));
  if (policy.empty() || policy == "Never") return;
  const std::string ptr = g.pod_spec_ptr + "/restartPolicy";
  r.report(ptr, verdict + ": " + dotted(ptr) + " is " + quote(policy, 12) +
                    "; autoscaler v2 needs Pods that are never restarted, so set restartPolicy: Never or remove it");
}

void check(const Workload& w, Reporter& r) {
  if (!w.kuberay || w.cluster == nullptr) return;
  const std::string verdict = controller_verdict(w);
  const Json* options = member(w.cluster, "autoscalerOptions");
  const std::string options_ptr = w.cluster_ptr + "/autoscalerOptions";
  const bool enabled = autoscaling_enabled(w.cluster);
  const bool v2 = autoscaler_v2(w.cluster);
  const Group* head = w.head();
  const Json* head_container = head != nullptr ? head->container() : nullptr;
  // KubeRay stops at a head without containers before it looks at any of this.
  if (head_container == nullptr) return;
  const EnvVar v2_env = env_var(head_container, kV2Env);
  const bool v2_by_env = v2_env && truthy(v2_env.value());

  if (!enabled && v2_by_env) {
    const std::string ptr = env_ptr(*head, v2_env);
    r.report(ptr, verdict + ": " + dotted(ptr) +
                      " enables autoscaler v2 but enableInTreeAutoscaling is not true; set it to true or remove the "
                      "variable");
  }
  if (enabled) {
    const Json* version = member(options, "version");
    if (version != nullptr && !version->is_null() && v2_env) {
      const std::string ptr = env_ptr(*head, v2_env);
      r.report(ptr, verdict + ": " + dotted(ptr) +
                        " and autoscalerOptions.version both choose the autoscaler version; keep only "
                        "autoscalerOptions.version");
    }
    if (v2) {
      for (const Group& g : w.groups) check_restart_policy(g, verdict, r);
    }
    for (const Group& g : w.groups) {
      if (g.role == Role::Worker && flag(member(g.spec, "suspend"))) {
        const std::string ptr = g.spec_ptr + "/suspend";
        r.report(ptr, verdict + ": " + dotted(ptr) +
                          " cannot suspend a worker group while the autoscaler is enabled; remove it or turn "
                          "autoscaling off");
      }
    }
  }
  if (auto idle = integer(member(options, "idleTimeoutSeconds")); idle && *idle < 0) {
    const std::string ptr = options_ptr + "/idleTimeoutSeconds";
    r.report(ptr, verdict + ": " + dotted(ptr) + " is " + std::to_string(*idle) + "; use 0 or more seconds");
  }
  if (options != nullptr && options->is_object()) {
    const Json* env = member(options, "env");
    if (env != nullptr && env->is_array()) {
      for (std::size_t i = 0; i < env->size(); ++i) {
        if (text(member((*env)[i], "name")) != kStartCmdEnv) continue;
        const std::string ptr = pointer::child(options_ptr + "/env", i);
        r.report(ptr, verdict + ": " + dotted(ptr) + " sets " + std::string(kStartCmdEnv) +
                          ", which KubeRay manages itself; remove it");
        break;
      }
    }
  }
  // Settings that only autoscaler v2 reads: chosen by autoscalerOptions.version, or by the
  // environment variable on older KubeRay.
  const bool v2_any = v2 || v2_by_env;
  const Json* ray_version = member(w.cluster, "rayVersion");
  for (const Group& g : w.groups) {
    if (g.role != Role::Worker) continue;
    if (auto idle = integer(member(g.spec, "idleTimeoutSeconds"))) {
      const std::string ptr = g.spec_ptr + "/idleTimeoutSeconds";
      if (*idle < 0) {
        r.report(ptr, verdict + ": " + dotted(ptr) + " is " + std::to_string(*idle) + "; use 0 or more seconds");
      } else if (!v2_any) {
        r.report(ptr, verdict + ": " + dotted(ptr) +
                          " only works with autoscaler v2; set autoscalerOptions.version: v2 or remove it");
      }
    }
    auto priority = integer(member(g.spec, "priority"));
    if (!priority || *priority == 0) continue;
    const std::string ptr = g.spec_ptr + "/priority";
    const std::string_view rv = text(ray_version);
    const std::vector<long long> parsed = generic_version(rv);
    if (parsed.empty()) {
      r.report(ptr, verdict + ": " + dotted(ptr) + " needs Ray 2.56.0 or later, and rayVersion " +
                        (rv.empty() ? std::string("is not set") : quote(rv) + " is not a version") +
                        "; set rayVersion");
    } else if (older_than(parsed, {2, 56, 0})) {
      r.report(ptr, verdict + ": " + dotted(ptr) + " needs Ray 2.56.0 or later, but rayVersion is " + quote(rv) +
                        "; upgrade Ray or remove priority");
    } else if (!v2_any) {
      r.report(ptr, verdict + ": " + dotted(ptr) +
                        " only works with autoscaler v2; set autoscalerOptions.version: v2 or remove it");
    }
  }
}

}  // namespace

extern const RuleInfo kuberay_autoscaler{
    .name = "kuberay-autoscaler",
    .default_action = Action::Deny,
    .mutation = Mutation::None,
    .origin = Origin::KubeRayController,
    .summary =
        "The autoscaler settings agree: v2 only with in-tree autoscaling, chosen one way, with the pod "
        "restart policy, timeouts and group settings it needs.",
    .why =
        "KubeRay's spec validation refuses, and then stops reconciling, a cluster whose head sets "
        "`RAY_enable_autoscaler_v2` to 1 or true while `enableInTreeAutoscaling` is off; that sets both "
        "the variable and `autoscalerOptions.version`; that uses autoscaler v2 with a head or worker "
        "`restartPolicy` other than Never (v2 expects a failed Pod to be replaced, not restarted); that "
        "suspends a worker group while autoscaling; that has a negative idle timeout; that sets a worker "
        "group's `idleTimeoutSeconds` or `priority` without autoscaler v2 (`priority` also needs Ray "
        "2.56.0); or that sets `KUBERAY_GEN_AUTOSCALER_START_CMD` in the autoscaler's environment, which "
        "the operator fills in itself.",
    .example =
        "spec:\n"
        "  enableInTreeAutoscaling: true\n"
        "  autoscalerOptions:\n"
        "    version: v2\n"
        "  headGroupSpec:\n"
        "    template:\n"
        "      spec:\n"
        "        restartPolicy: Always\n",
    .fix =
        "Choose v2 with `autoscalerOptions.version` only, and let its Pods be replaced rather than "
        "restarted:\n\n"
        "  spec:\n"
        "    enableInTreeAutoscaling: true\n"
        "    autoscalerOptions:\n"
        "      version: v2\n"
        "    headGroupSpec:\n"
        "      template:\n"
        "        spec:\n"
        "          restartPolicy: Never\n",
    .mutation_doc = "",
    .check = check,
};

}  // namespace ray_admission::checks
