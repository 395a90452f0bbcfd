// In-process benchmark of the engine alone: parse an AdmissionReview, run every rule in Mutate
// mode, serialise the patch and the response. Reports the median and p99 per call for a typical
// RayCluster (a head and two worker groups, about 8 KB), a large one (50 worker groups), and the
// growth with 1, 10 and 100 worker groups.
//
// Usage: engine_bench [--quick]
#include "json/fast_parse.h"
#include "rules/engine.h"
#include "rules/policy.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace ray_admission;

namespace {

Json container(const std::string& name, int cpus, const std::string& memory) {
  Json env = Json::array();
  for (int i = 0; i < 20; ++i) {
    env.push_back({{"name", "RAY_SETTING_" + std::to_string(i)}, {"value", "value-" + std::to_string(i)}});
  }
  env.push_back({{"name", "MY_POD_IP"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "status.podIP"}}}}}});
  return {
      {"name", name},
      {"image", "rayproject/ray:2.9.0-py310"},
      {"imagePullPolicy", "IfNotPresent"},
      {"env", env},
      {"ports",
       Json::array({{{"containerPort", 6379}, {"name", "gcs"}},
                    {{"containerPort", 8265}, {"name", "dashboard"}},
                    {{"containerPort", 10001}, {"name", "client"}}})},
      {"resources",
       {{"limits", {{"cpu", std::to_string(cpus)}, {"memory", memory}}},
        {"requests", {{"cpu", std::to_string(cpus)}, {"memory", memory}}}}},
      {"volumeMounts", Json::array({{{"mountPath", "/tmp/ray"}, {"name", "ray-logs"}},
                                    {{"mountPath", "/dev/shm"}, {"name", "dshm"}}})},
      {"readinessProbe",
       {{"exec", {{"command", Json::array({"bash", "-c", "wget -T 2 -q -O- http://localhost:52365/api/local_raylet_healthz"})}}},
        {"initialDelaySeconds", 10},
        {"periodSeconds", 5}}},
  };
}

Json pod_template(const std::string& name, int cpus, const std::string& memory) {
  return {{"metadata", {{"labels", {{"app", "ray"}, {"team", "ml-platform"}}}}},
          {"spec",
           {{"serviceAccountName", "ray"},
            {"containers", Json::array({container(name, cpus, memory)})},
            {"volumes", Json::array({{{"name", "ray-logs"}, {"emptyDir", Json::object()}},
                                     {{"name", "dshm"}, {"emptyDir", {{"medium", "Memory"}}}}})},
            {"tolerations", Json::array({{{"key", "ray.io/node"}, {"operator", "Exists"}, {"effect", "NoSchedule"}}})},
            {"nodeSelector", {{"pool", "ray"}}},
            {"affinity",
             {{"nodeAffinity",
               {{"requiredDuringSchedulingIgnoredDuringExecution",
                 {{"nodeSelectorTerms",
                   Json::array({{{"matchExpressions",
                                  Json::array({{{"key", "topology.kubernetes.io/zone"},
                                                {"operator", "In"},
                                                {"values", Json::array({"us-central1-a", "us-central1-b"})}}})}}})}}}}}}}}}};
}

std::string review(int worker_groups) {
  Json spec = {{"rayVersion", "2.9.0"},
               {"enableInTreeAutoscaling", true},
               {"headGroupSpec",
                {{"serviceType", "ClusterIP"},
                 {"rayStartParams", {{"dashboard-host", "0.0.0.0"}, {"num-cpus", "0"}}},
                 {"template", pod_template("ray-head", 4, "16Gi")}}}};
  Json workers = Json::array();
  for (int i = 0; i < worker_groups; ++i) {
    workers.push_back({{"groupName", "workers-" + std::to_string(i)},
                       {"replicas", 2},
                       {"minReplicas", 1},
                       {"maxReplicas", 10},
                       {"rayStartParams", Json::object()},
                       {"template", pod_template("ray-worker", 8, "32Gi")}});
  }
  spec["workerGroupSpecs"] = workers;
  Json object = {{"apiVersion", "ray.io/v1"},
                 {"kind", "RayCluster"},
                 {"metadata", {{"name", "bench"}, {"namespace", "ml"}}},
                 {"spec", spec}};
  Json r = {{"apiVersion", "admission.k8s.io/v1"},
            {"kind", "AdmissionReview"},
            {"request",
             {{"uid", "705ab4f5-6393-11e8-b7cc-42010a800002"},
              {"kind", {{"group", "ray.io"}, {"version", "v1"}, {"kind", "RayCluster"}}},
              {"resource", {{"group", "ray.io"}, {"version", "v1"}, {"resource", "rayclusters"}}},
              {"namespace", "ml"},
              {"operation", "CREATE"},
              {"userInfo", {{"username", "admin"}, {"groups", Json::array({"system:authenticated"})}}},
              {"object", object},
              {"oldObject", nullptr},
              {"dryRun", false}}}};
  return r.dump();
}

const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64(const std::string& in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += i + 1 < in.size() ? kB64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

enum class Parser { Nlohmann, Fast };

// One admission call as the server makes it: parse, evaluate, build and serialise the response.
std::size_t one_call(const std::string& body, const Policy& policy, Parser which, FastJsonParser& fast) {
  Json req;
  if (which == Parser::Fast) {
    std::string err;
    if (!fast.parse(body, req, err)) return 0;
  } else {
    req = Json::parse(body, nullptr, false);
  }
  const Json& object = req["request"]["object"];
  Result r = evaluate(object, policy, Mode::Mutate);
  Json resp = {{"uid", req["request"]["uid"]}, {"allowed", r.allowed}};
  if (!r.patch.empty()) {
    resp["patchType"] = "JSONPatch";
    resp["patch"] = base64(patch_to_json(r.patch).dump());
  }
  Json out = {{"apiVersion", "admission.k8s.io/v1"}, {"kind", "AdmissionReview"}, {"response", resp}};
  return out.dump().size();
}

// Only the parse, for the breakdown.
std::size_t parse_only(const std::string& body, const Policy&, Parser which, FastJsonParser& fast) {
  Json req;
  if (which == Parser::Fast) {
    std::string err;
    fast.parse(body, req, err);
  } else {
    req = Json::parse(body, nullptr, false);
  }
  return req.size();
}

struct Stats {
  double median_us;
  double p99_us;
};

template <typename Fn>
Stats measure(Fn fn, int iterations) {
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(iterations));
  std::size_t sink = 0;
  for (int i = 0; i < std::max(1, iterations / 10); ++i) sink += fn();  // warm up
  for (int i = 0; i < iterations; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    sink += fn();
    auto t1 = std::chrono::steady_clock::now();
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  std::sort(us.begin(), us.end());
  if (sink == 0) std::puts("(empty responses?)");
  return {us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 99 / 100)]};
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int scale = quick ? 20 : 1;
  Policy policy;
  FastJsonParser fast;
  struct Case {
    const char* label;
    int groups;
    int iterations;
  };
  const Case cases[] = {
      {"typical (head + 2 groups)", 2, 20000},
      {"large (head + 50 groups)", 50, 1000},
      {"head + 1 group", 1, 20000},
      {"head + 10 groups", 10, 5000},
      {"head + 100 groups", 100, 500},
  };
  std::printf("%-28s %8s %-9s %14s %12s %12s\n", "review", "bytes", "parser", "what", "median_us", "p99_us");
  for (const Case& c : cases) {
    std::string body = review(c.groups);
    const int n = std::max(10, c.iterations / scale);
    for (Parser which : {Parser::Nlohmann, Parser::Fast}) {
      const char* pname = which == Parser::Fast ? "simdjson" : "nlohmann";
      Stats all = measure([&] { return one_call(body, policy, which, fast); }, n);
      Stats parse = measure([&] { return parse_only(body, policy, which, fast); }, n);
      std::printf("%-28s %8zu %-9s %14s %12.1f %12.1f\n", c.label, body.size(), pname, "whole call", all.median_us,
                  all.p99_us);
      std::printf("%-28s %8zu %-9s %14s %12.1f %12.1f\n", c.label, body.size(), pname, "parse only",
                  parse.median_us, parse.p99_us);
    }
  }
  return 0;
}
