// ray-head-ports: a non-default head port declared on the container must also be the port Ray listens on.
#include "../json_pointer.h"
#include "../rule.h"

#include <charconv>

namespace ray_admission::checks {

namespace {

struct KnownPort {
  std::string_view param;  // the rayStartParams entry / `ray start` flag
  long long default_number;
};

// The container port names KubeRay's head Service knows. The Ray guide calls the GCS port `gcs`;
// KubeRay's own name for it, used by its samples, is `gcs-server`. Both are read.
const KnownPort* known(std::string_view name) {
  static constexpr KnownPort kGcs{"port", 6379};
  static constexpr KnownPort kDashboard{"dashboard-port", 8265};
  static constexpr KnownPort kClient{"ray-client-server-port", 10001};
  if (name == "gcs" || name == "gcs-server") return &kGcs;
  if (name == "dashboard") return &kDashboard;
  if (name == "client") return &kClient;
  return nullptr;
}

std::optional<long long> integer(std::string_view s) {
  long long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

void check(const Workload& w, Reporter& r) {
  const Group* head = w.head();
  if (head == nullptr) return;
  const Json* ports = member(head->container(), "ports");
  if (ports == nullptr || !ports->is_array()) return;
  for (std::size_t i = 0; i < ports->size(); ++i) {
    const Json& port = (*ports)[i];
    const Json* name = member(port, "name");
    const Json* number = member(port, "containerPort");
    if (name == nullptr || !name->is_string() || number == nullptr || !number->is_number_integer()) continue;
    const KnownPort* k = known(name->get_ref<const std::string&>());
    if (k == nullptr) continue;
    const long long n = number->get<long long>();
    if (n < 1 || n > 65535) continue;  // not a port at all: the API server's to reject
    // The pointer and the names are built only for a finding: most objects have none.
    auto ptr = [&] { return pointer::child(head->container_ptr() + "/ports", i) + "/containerPort"; };
    const std::string_view params_name = w.kuberay ? "rayStartParams." : "--";
    auto want = [&] { return std::string(params_name) + std::string(k->param); };
    auto param = head->param(k->param);
    if (!param) {
      if (n == k->default_number) continue;
      const std::string p = ptr();
      r.report(p, pointer::to_dotted(p) + " is " + std::to_string(n) + " but Ray listens on " +
                      std::to_string(k->default_number) + ": set " + want() +
                      (w.kuberay ? ": \"" + std::to_string(n) + "\"" : "=" + std::to_string(n)));
      continue;
    }
    auto set = integer(param->text);
    if (!set || *set == n) continue;  // a value from an environment variable is only known at run time
    const std::string p = ptr();
    r.report(p, pointer::to_dotted(p) + " is " + std::to_string(n) + " but " + want() + " is " + param->text +
                    ": Ray listens on the latter; make the two the same");
  }
}

}  // namespace

extern const RuleInfo ray_head_ports{
    .name = "ray-head-ports",
    .default_action = Action::Deny,
    .mutation = Mutation::None,
    .origin = Origin::RayDocs,
    .summary = "A head container port named gcs, dashboard or client matches the port Ray is told to listen on.",
    .why =
        "KubeRay builds the head Service from the head container's ports, so a port list overrides which "
        "ports the Service exposes. Naming a port does not change where Ray listens, though: the GCS server "
        "stays on 6379, the dashboard on 8265 and the Ray Client server on 10001 unless rayStartParams sets "
        "`port`, `dashboard-port` or `ray-client-server-port`. The Ray guide on RayCluster configuration "
        "says a non-default port list needs the matching rayStartParams. Otherwise the Service points at a "
        "port nothing listens on: workers cannot join, and the dashboard, job submission and Ray Client are "
        "unreachable. The GCS port is recognised under both `gcs` (the Ray guide) and `gcs-server` "
        "(KubeRay's own name). Static clusters are checked the same way against their `ray start --head` "
        "flags; a flag whose value comes from an environment variable is not judged.",
    .example =
        "headGroupSpec:\n"
        "  rayStartParams: {}\n"
        "  template:\n"
        "    spec:\n"
        "      containers:\n"
        "      - name: ray-head\n"
        "        image: rayproject/ray:2.9.0\n"
        "        ports:\n"
        "        - containerPort: 6380\n"
        "          name: gcs\n"
        "        - containerPort: 8266\n"
        "          name: dashboard\n",
    .fix =
        "Tell Ray to listen where the Service sends traffic:\n\n"
        "  headGroupSpec:\n"
        "    rayStartParams:\n"
        "      port: \"6380\"\n"
        "      dashboard-port: \"8266\"\n",
    .mutation_doc = "",
    .check = check,
};

}  // namespace ray_admission::checks
