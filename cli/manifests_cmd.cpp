// `ray-admission manifests`: the ValidatingWebhookConfiguration and MutatingWebhookConfiguration
// for users without Helm. Every default here is also a default of charts/ray-admission (its
// values.yaml and templates/webhooks.yaml); test/deploy_manifests_test.py compares the two.
#include "commands.h"

#include "certs/pki.h"
#include "rules/types.h"
#include "yaml/yaml_json.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace ray_admission::cli {

namespace {

constexpr std::string_view kUsage =
    "usage: ray-admission manifests --service NAME --namespace NS --ca-bundle FILE [--name NAME]\n"
    "                               [--port N] [--validating-failure-policy Fail|Ignore]\n"
    "                               [--mutating-failure-policy Ignore|Fail] [--timeout-seconds N]\n"
    "                               [--exclude-namespace NS]... [--static-clusters]\n"
    "                               [--all [--image IMAGE] [--secret NAME]]\n"
    "  Prints the ValidatingWebhookConfiguration and the MutatingWebhookConfiguration (YAML) that\n"
    "  send Ray objects to the webhook Service NAME in namespace NS, trusting the CA in FILE (PEM,\n"
    "  e.g. ca.crt from `ray-admission certs`). The defaults are the Helm chart's:\n"
    "  --name NAME                   name of both configurations (default: the Service name)\n"
    "  --port N                      the Service's port (default 443)\n"
    "  --validating-failure-policy   what the API server does when the webhook cannot answer (Fail)\n"
    "  --mutating-failure-policy     the same for the mutating webhook (Ignore)\n"
    "  --timeout-seconds N           1 to 30 (default 5)\n"
    "  --exclude-namespace NS        never send objects of NS (kube-system, kube-node-lease and the\n"
    "                                webhook's own namespace are always excluded)\n"
    "  --static-clusters             also check Deployments, StatefulSets, DaemonSets, Jobs and Pods\n"
    "                                that run `ray start` (needs Kubernetes 1.28+: matchConditions)\n"
    "  --all                         also the server: ServiceAccount, policy ConfigMap, Service,\n"
    "                                Deployment and PodDisruptionBudget, as the chart makes them\n"
    "  --image IMAGE                 the server's image (default ray-admission:0.1.0)\n"
    "  --secret NAME                 the kubernetes.io/tls Secret the pods mount (default NAME-tls)\n";

// The defaults the chart shares (charts/ray-admission/values.yaml).
constexpr std::string_view kDefaultValidatingFailurePolicy = "Fail";
constexpr std::string_view kDefaultMutatingFailurePolicy = "Ignore";
constexpr int kDefaultTimeoutSeconds = 5;
constexpr int kDefaultPort = 443;
constexpr std::string_view kDefaultImage = "ray-admission:0.1.0";
constexpr int kReplicas = 2;
constexpr int kContainerPort = 8443;
constexpr int kRunAs = 65532;

// The API server calls the webhook only when every condition holds (matchConditions, CEL). A
// superset of what the engine calls `ray start` (rules/ray_start.cpp): some word of a container's
// command or args mentions `ray`, and some word mentions `start`. The engine decides the rest.
std::string runs_ray_start(const std::string& pod_spec) {
  return pod_spec +
         ".containers.exists(c, "
         "((has(c.command) && c.command.exists(w, w.contains('ray'))) || "
         "(has(c.args) && c.args.exists(w, w.contains('ray')))) && "
         "((has(c.command) && c.command.exists(w, w.contains('start'))) || "
         "(has(c.args) && c.args.exists(w, w.contains('start')))))";
}

// Pods whose template was checked on their owner, and pods KubeRay creates, never reach the
// webhook (RULES.md §1 skips them anyway).
constexpr std::string_view kNotOwnedByController =
    "!has(object.metadata.ownerReferences) || !object.metadata.ownerReferences.exists(r, r.kind in "
    "['ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'RayCluster'])";
constexpr std::string_view kNotCreatedByKubeRay =
    "!has(object.metadata.labels) || !('ray.io/node-type' in object.metadata.labels)";

struct Options {
  std::string service;
  std::string ns;
  std::string ca_file;
  std::string name;
  int port = kDefaultPort;
  std::string validating_failure_policy{kDefaultValidatingFailurePolicy};
  std::string mutating_failure_policy{kDefaultMutatingFailurePolicy};
  int timeout_seconds = kDefaultTimeoutSeconds;
  std::vector<std::string> exclude;
  bool static_clusters = false;
  bool all = false;
  std::string image{kDefaultImage};
  std::string secret;
};

int usage_error(const std::string& msg) {
  std::cerr << "ray-admission manifests: " << msg << "\n" << kUsage;
  return 2;
}

std::optional<int> parse_int(const std::string& s, int lo, int hi) {
  if (s.empty() || s.size() > 5 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  int v = std::stoi(s);
  if (v < lo || v > hi) return std::nullopt;
  return v;
}

bool dns_label(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  return alnum(s.front()) && alnum(s.back()) &&
         std::all_of(s.begin(), s.end(), [&](char c) { return alnum(c) || c == '-'; });
}

std::string base64(const std::string& in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16 | static_cast<unsigned char>(in[i + 1]) << 8 |
                 static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += kAlphabet[v >> 6 & 63];
    out += kAlphabet[v & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += i + 1 < in.size() ? kAlphabet[v >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

Json rule(std::vector<std::string> groups, std::vector<std::string> versions, std::vector<std::string> resources,
          std::vector<std::string> operations) {
  return Json{{"apiGroups", groups},
              {"apiVersions", versions},
              {"operations", operations},
              {"resources", resources},
              {"scope", "Namespaced"}};
}

Json condition(std::string_view name, std::string_view expression) {
  return Json{{"name", name}, {"expression", expression}};
}

// What each webhook of a configuration receives.
struct Target {
  std::string_view name;  // "kuberay" -> kuberay.validate.ray-admission.io
  Json rules;
  Json match_conditions;  // null: none
};

std::vector<Target> targets(bool static_clusters) {
  std::vector<Target> out;
  // KubeRay's objects. Status updates go to the /status subresource, which these rules do not
  // name, so KubeRay's own reconciling rarely reaches the webhook.
  out.push_back({"kuberay",
                 Json::array({rule({"ray.io"}, {"v1", "v1alpha1"},
                                   {"rayclusters", "rayjobs", "rayservices", "raycronjobs"}, {"CREATE", "UPDATE"})}),
                 nullptr});
  if (!static_clusters) return out;
  // Static clusters. A Job's template and a Pod's spec cannot change after creation: checking (or
  // patching) them on UPDATE could only refuse updates of labels, finalizers or status.
  out.push_back(
      {"workloads",
       Json::array({rule({"apps"}, {"v1"}, {"deployments", "statefulsets", "daemonsets"}, {"CREATE", "UPDATE"}),
                    rule({"batch"}, {"v1"}, {"jobs"}, {"CREATE"})}),
       Json::array({condition("runs-ray-start", runs_ray_start("object.spec.template.spec"))})});
  out.push_back({"pods", Json::array({rule({""}, {"v1"}, {"pods"}, {"CREATE"})}),
                 Json::array({condition("runs-ray-start", runs_ray_start("object.spec")),
                              condition("not-owned-by-a-controller", kNotOwnedByController),
                              condition("not-created-by-kuberay", kNotCreatedByKubeRay)})});
  return out;
}

Json namespace_selector(const Options& o) {
  std::vector<std::string> excluded = {"kube-system", "kube-node-lease", o.ns};
  for (const std::string& n : o.exclude) {
    if (std::find(excluded.begin(), excluded.end(), n) == excluded.end()) excluded.push_back(n);
  }
  return Json{
      {"matchExpressions",
       Json::array({Json{{"key", "kubernetes.io/metadata.name"}, {"operator", "NotIn"}, {"values", excluded}}})}};
}

Json configuration(const Options& o, bool mutating, const std::string& ca_bundle) {
  const char* verb = mutating ? "mutate" : "validate";
  Json webhooks = Json::array();
  for (const Target& t : targets(o.static_clusters)) {
    Json w = {
        {"name", std::string(t.name) + "." + verb + ".ray-admission.io"},
        {"admissionReviewVersions", {"v1", "v1beta1"}},
        {"clientConfig",
         {{"service", {{"name", o.service}, {"namespace", o.ns}, {"path", std::string("/") + verb}, {"port", o.port}}},
          {"caBundle", ca_bundle}}},
        {"failurePolicy", mutating ? o.mutating_failure_policy : o.validating_failure_policy},
        {"matchPolicy", "Equivalent"},
        {"namespaceSelector", namespace_selector(o)},
        {"rules", t.rules},
        {"sideEffects", "None"},
        {"timeoutSeconds", o.timeout_seconds},
    };
    if (mutating) w["reinvocationPolicy"] = "IfNeeded";
    if (!t.match_conditions.is_null()) w["matchConditions"] = t.match_conditions;
    webhooks.push_back(std::move(w));
  }
  return Json{{"apiVersion", "admissionregistration.k8s.io/v1"},
              {"kind", mutating ? "MutatingWebhookConfiguration" : "ValidatingWebhookConfiguration"},
              {"metadata",
               {{"name", o.name},
                {"labels", {{"app.kubernetes.io/name", "ray-admission"}, {"app.kubernetes.io/instance", o.name}}}}},
              {"webhooks", std::move(webhooks)}};
}

// --all: the server's own objects, field for field what the chart renders with its defaults
// (test/deploy_manifests_test.py compares them).
Json object_meta(const Options& o, const std::string& name) {
  return Json{{"name", name},
              {"namespace", o.ns},
              {"labels", {{"app.kubernetes.io/name", "ray-admission"}, {"app.kubernetes.io/instance", o.name}}}};
}

Json selector_labels(const Options& o) {
  return Json{{"app.kubernetes.io/name", "ray-admission"}, {"app.kubernetes.io/instance", o.name}};
}

Json spread(const Options& o, const char* key) {
  return Json{{"maxSkew", 1},
              {"topologyKey", key},
              {"whenUnsatisfiable", "ScheduleAnyway"},
              {"labelSelector", {{"matchLabels", selector_labels(o)}}}};
}

Json probe(const char* path, int period, int failures) {
  return Json{{"httpGet", {{"path", path}, {"port", "https"}, {"scheme", "HTTPS"}}},
              {"periodSeconds", period},
              {"failureThreshold", failures}};
}

std::vector<Json> server_objects(const Options& o) {
  std::vector<Json> out;
  out.push_back(Json{{"apiVersion", "v1"},
                     {"kind", "ServiceAccount"},
                     {"metadata", object_meta(o, o.service)},
                     {"automountServiceAccountToken", false}});
  out.push_back(Json{{"apiVersion", "v1"},
                     {"kind", "ConfigMap"},
                     {"metadata", object_meta(o, o.service + "-policy")},
                     {"data", {{"policy.yaml", "profile: default\n"}}}});
  out.push_back(
      Json{{"apiVersion", "v1"},
           {"kind", "Service"},
           {"metadata", object_meta(o, o.service)},
           {"spec",
            {{"type", "ClusterIP"},
             {"selector", selector_labels(o)},
             {"ports",
              Json::array({{{"name", "https"}, {"port", o.port}, {"targetPort", "https"}, {"protocol", "TCP"}}})}}}});
  Json container = {
      {"name", "ray-admission"},
      {"image", o.image},
      {"imagePullPolicy", "IfNotPresent"},
      {"args",
       {"serve", "--port", std::to_string(kContainerPort), "--cert-dir", "/etc/ray-admission/tls", "--policy",
        "/etc/ray-admission/policy/policy.yaml"}},
      {"ports", Json::array({{{"name", "https"}, {"containerPort", kContainerPort}, {"protocol", "TCP"}}})},
      {"livenessProbe", probe("/healthz", 10, 3)},
      {"readinessProbe", probe("/readyz", 5, 2)},
      {"resources",
       {{"limits", {{"cpu", "1"}, {"memory", "256Mi"}}}, {"requests", {{"cpu", "50m"}, {"memory", "64Mi"}}}}},
      {"securityContext",
       {{"runAsNonRoot", true},
        {"allowPrivilegeEscalation", false},
        {"privileged", false},
        {"readOnlyRootFilesystem", true},
        {"capabilities", {{"drop", {"ALL"}}}},
        {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
      {"volumeMounts",
       Json::array({{{"name", "tls"}, {"mountPath", "/etc/ray-admission/tls"}, {"readOnly", true}},
                    {{"name", "policy"}, {"mountPath", "/etc/ray-admission/policy"}, {"readOnly", true}}})},
  };
  Json pod_spec = {
      {"serviceAccountName", o.service},
      {"automountServiceAccountToken", false},
      {"securityContext",
       {{"runAsNonRoot", true},
        {"runAsUser", kRunAs},
        {"runAsGroup", kRunAs},
        {"fsGroup", kRunAs},
        {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
      {"containers", Json::array({container})},
      {"volumes", Json::array({{{"name", "tls"}, {"secret", {{"secretName", o.secret}, {"defaultMode", 0440}}}},
                               {{"name", "policy"}, {"configMap", {{"name", o.service + "-policy"}}}}})},
      {"topologySpreadConstraints",
       Json::array({spread(o, "kubernetes.io/hostname"), spread(o, "topology.kubernetes.io/zone")})},
  };
  out.push_back(
      Json{{"apiVersion", "apps/v1"},
           {"kind", "Deployment"},
           {"metadata", object_meta(o, o.service)},
           {"spec",
            {{"replicas", kReplicas},
             {"selector", {{"matchLabels", selector_labels(o)}}},
             {"strategy", {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxUnavailable", 0}, {"maxSurge", 1}}}}},
             {"template", {{"metadata", {{"labels", selector_labels(o)}}}, {"spec", pod_spec}}}}}});
  out.push_back(Json{{"apiVersion", "policy/v1"},
                     {"kind", "PodDisruptionBudget"},
                     {"metadata", object_meta(o, o.service)},
                     {"spec", {{"minAvailable", 1}, {"selector", {{"matchLabels", selector_labels(o)}}}}}});
  return out;
}

}  // namespace

int manifests_main(Args args) {
  Options o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    }
    if (a == "--static-clusters" || a == "--all") {
      (a == "--all" ? o.all : o.static_clusters) = true;
      continue;
    }
    if (a != "--service" && a != "--namespace" && a != "--ca-bundle" && a != "--name" && a != "--port" &&
        a != "--validating-failure-policy" && a != "--mutating-failure-policy" && a != "--timeout-seconds" &&
        a != "--exclude-namespace" && a != "--image" && a != "--secret") {
      return usage_error("unexpected argument '" + a + "'");
    }
    if (i + 1 >= args.size()) return usage_error(a + " needs a value");
    std::string v = args[++i];
    if (a == "--service") o.service = v;
    if (a == "--namespace") o.ns = v;
    if (a == "--ca-bundle") o.ca_file = v;
    if (a == "--name") o.name = v;
    if (a == "--image") o.image = v;
    if (a == "--secret") o.secret = v;
    if (a == "--port") {
      auto p = parse_int(v, 1, 65535);
      if (!p) return usage_error("--port takes 1 to 65535, not '" + v + "'");
      o.port = *p;
    }
    if (a == "--timeout-seconds") {
      auto t = parse_int(v, 1, 30);
      if (!t) return usage_error("--timeout-seconds takes 1 to 30 (the API server's limit), not '" + v + "'");
      o.timeout_seconds = *t;
    }
    if (a == "--validating-failure-policy" || a == "--mutating-failure-policy") {
      if (v != "Fail" && v != "Ignore") return usage_error(a + " is Fail or Ignore, not '" + v + "'");
      (a == "--validating-failure-policy" ? o.validating_failure_policy : o.mutating_failure_policy) = v;
    }
    if (a == "--exclude-namespace") {
      if (!dns_label(v)) return usage_error("'" + v + "' is not a namespace name");
      o.exclude.push_back(v);
    }
  }
  if (o.service.empty() || o.ns.empty() || o.ca_file.empty()) {
    return usage_error("--service, --namespace and --ca-bundle are required");
  }
  if (!dns_label(o.service)) return usage_error("'" + o.service + "' is not a Service name");
  if (!dns_label(o.ns)) return usage_error("'" + o.ns + "' is not a namespace name");
  if (o.name.empty()) o.name = o.service;
  if (o.secret.empty()) o.secret = o.service + "-tls";
  if ((o.image != kDefaultImage || o.secret != o.service + "-tls") && !o.all) {
    return usage_error("--image and --secret go with --all");
  }

  std::ifstream in(o.ca_file, std::ios::binary);
  if (!in) {
    std::cerr << "ray-admission manifests: " << o.ca_file << ": cannot read: " << std::strerror(errno) << "\n";
    return 2;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string pem = ss.str();
  std::string err;
  auto info = pki::inspect(pem, err);
  if (!info) {
    std::cerr << "ray-admission manifests: " << o.ca_file << ": " << err << "\n";
    return 2;
  }
  if (!info->is_ca) {
    // A self-signed serving certificate can be its own trust anchor; a CA is what `certs` writes.
    std::cerr << "ray-admission manifests: note: " << o.ca_file
              << " is not a CA certificate; the API server will trust only that exact certificate\n";
  }

  std::string bundle = base64(pem);
  std::cout << "# Generated by `ray-admission manifests`; the Helm chart charts/ray-admission makes the same.\n";
  if (o.all) {
    for (const Json& obj : server_objects(o)) std::cout << to_yaml(obj) << "---\n";
  }
  std::cout << to_yaml(configuration(o, false, bundle)) << "---\n" << to_yaml(configuration(o, true, bundle));
  return 0;
}

}  // namespace ray_admission::cli
