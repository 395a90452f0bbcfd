// ray-dashboard-host: the head's dashboard listens on every interface, so it can be reached from outside the pod.
#include "../json_pointer.h"
#include "../rule.h"

#include <algorithm>
#include <cctype>

namespace ray_admission::checks {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// "0.0.0.0", or its IPv6 twin "::" (every interface on a dual-stack or IPv6 cluster).
// The value as the message shows it, cut short so that the message stays under 256 characters.
std::string clip(const std::string& s) { return s.size() > 40 ? s.substr(0, 37) + "..." : s; }

bool all_interfaces(std::string_view host) { return host == "0.0.0.0" || host == "::" || host == "[::]"; }

void check(const Workload& w, Reporter& r) {
  const Group* head = w.head();
  if (head == nullptr) return;
  // With the dashboard turned off there is nothing to listen.
  if (auto inc = head->param("include-dashboard"); inc && lower(inc->text) == "false") return;

  auto host = head->param("dashboard-host");
  if (host && host->value != nullptr && host->value->is_null()) host.reset();  // null: as good as absent
  if (!host) {
    if (w.kuberay) {
      if (!r.fixes_wanted()) return;  // only the mutation acts
      const std::string where = head->start_params != nullptr ? head->start_params_ptr : head->spec_ptr;
      r.suggest(where,
                pointer::to_dotted(head->start_params_ptr) +
                    " has no dashboard-host: set it to \"0.0.0.0\" so the dashboard is reachable from outside the pod",
                add_op(pointer::child(head->start_params_ptr, "dashboard-host"), "0.0.0.0"));
    } else if (head->ray_start) {
      // A static cluster: report, never rewrite the user's shell command.
      r.report(head->ray_start->pointer,
               pointer::to_dotted(head->ray_start->pointer) +
                   " runs `ray start --head` without --dashboard-host: the dashboard listens on localhost only; "
                   "add --dashboard-host=0.0.0.0");
    }
    return;
  }
  // A value from an environment variable is only known when the pod runs.
  if (host->text.find('$') != std::string::npos || all_interfaces(host->text)) return;
  if (host->is_flag()) {
    r.report(host->pointer, pointer::to_dotted(host->pointer) + " passes --dashboard-host=" + clip(host->text) +
                                ": the dashboard is unreachable from outside the pod; use --dashboard-host=0.0.0.0");
  } else {
    r.report(host->pointer, pointer::to_dotted(host->pointer) + " is \"" + clip(host->text) +
                                "\": the dashboard is unreachable from outside the pod; set it to \"0.0.0.0\"");
  }
}

}  // namespace

extern const RuleInfo ray_dashboard_host{
    .name = "ray-dashboard-host",
    .default_action = Action::Warn,
    .mutation = Mutation::OnByDefault,
    .origin = Origin::RayDocs,
    .summary = "The head's dashboard listens on 0.0.0.0.",
    .why =
        "`ray start` binds the dashboard to localhost unless told otherwise, and a dashboard bound to "
        "localhost inside the head pod cannot be reached through the head Service, an Ingress, or `kubectl "
        "port-forward`; the Ray Jobs API that `ray job submit` and RayJob use goes through the same server. "
        "The Ray guide on RayCluster configuration says the head's `dashboard-host` should be \"0.0.0.0\" in "
        "nearly every case. Recent KubeRay versions fill it in when it is missing, but a static cluster gets "
        "only what its `ray start` line says. `::` (every interface, IPv6) is accepted too, and a value taken "
        "from an environment variable is not judged.",
    .example =
        "headGroupSpec:\n"
        "  rayStartParams:\n"
        "    dashboard-host: \"127.0.0.1\"\n",
    .fix =
        "Listen on every interface:\n\n"
        "  headGroupSpec:\n"
        "    rayStartParams:\n"
        "      dashboard-host: \"0.0.0.0\"\n\n"
        "For a static cluster, add `--dashboard-host=0.0.0.0` to the head's `ray start --head` command.\n",
    .mutation_doc =
        "When a KubeRay head has no `dashboard-host` at all, the mutation adds `dashboard-host: "
        "\"0.0.0.0\"` to its rayStartParams (creating rayStartParams if needed). A value the user set "
        "is never changed, and a static cluster's shell command is never rewritten: both only warn.",
    .check = check,
};

}  // namespace ray_admission::checks
