// In-process benchmark of the engine alone: parse an AdmissionReview, run every rule in Mutate
// mode, serialise the patch and the response. Reports the median and p99 per call for a typical
// RayCluster (a head and two worker groups, about 8 KB), a large one (50 worker groups, about
// 200 KB), and the growth with 1, 10 and 100 worker groups.
//
// Each call is timed twice: by the wall clock, and by the thread's CPU clock, which leaves out the
// time the thread waited for a core. On a shared machine the first is what a request sees and
// the second is what our code costs; docs/benchmarks.md reports both.
//
// Usage: engine_bench [--quick] [--best-of K]
//                                        all the cases (--quick: few iterations, for CI; --best-of K:
//                                        each measured K times, the run with the lowest median kept)
//        engine_bench --dump-review N    print the review with N worker groups (bench/e2e.sh posts it)
//        engine_bench --profile WHAT N ITER
//                                        ITER calls on N groups, untimed, for a profiler. WHAT: whole
//                                        (simdjson, discard()), validate or mutate (the server's handler)
#include "json/fast_parse.h"
#include "json/write.h"
#include "rules/engine.h"
#include "rules/policy.h"
#include "rules/registry.h"
#include "rules/rule.h"
#include "rules/workload.h"
#include "server/admission.h"

#include <time.h>

#include <atomic>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <vector>

using namespace ray_admission;

// Every heap allocation the process makes is counted, so that each row can say how many blocks a
// call allocates (the other operator new forms end up here; the cost is one relaxed increment).
namespace {
std::atomic<std::size_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t bytes) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(bytes == 0 ? 1 : bytes)) return p;
  throw std::bad_alloc();
}
// The replacements pair malloc with free; GCC sees only that free gets what operator new returned.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace {

// Typical: a RayCluster as written. WithSidecar: every worker runs a log shipper too. Applied: the
// typical cluster as `kubectl apply` creates it, with the last-applied annotation and the
// managedFields the API server adds (a fieldsV1 tree mirroring every field set).
enum class Shape { Typical, WithSidecar, Applied };

Json env_list(const std::string& prefix, int n) {
  Json env = Json::array();
  for (int i = 0; i < n; ++i) {
    env.push_back({{"name", prefix + std::to_string(i)}, {"value", "value-" + std::to_string(i)}});
  }
  return env;
}

Json container(const std::string& name, int cpus, const std::string& memory) {
  Json env = env_list("RAY_SETTING_", 20);
  env.push_back({{"name", "MY_POD_IP"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "status.podIP"}}}}}});
  return {
      {"name", name},
      {"image", "rayproject/ray:2.9.0-py310"},
      {"imagePullPolicy", "IfNotPresent"},
      {"env", env},
      {"ports", Json::array({{{"containerPort", 6379}, {"name", "gcs"}},
                             {{"containerPort", 8265}, {"name", "dashboard"}},
                             {{"containerPort", 10001}, {"name", "client"}}})},
      {"resources",
       {{"limits", {{"cpu", std::to_string(cpus)}, {"memory", memory}}},
        {"requests", {{"cpu", std::to_string(cpus)}, {"memory", memory}}}}},
      {"volumeMounts",
       Json::array({{{"mountPath", "/tmp/ray"}, {"name", "ray-logs"}}, {{"mountPath", "/dev/shm"}, {"name", "dshm"}}})},
      {"readinessProbe",
       {{"exec",
         {{"command",
           Json::array({"bash", "-c", "wget -T 2 -q -O- http://localhost:52365/api/local_raylet_healthz"})}}},
        {"initialDelaySeconds", 10},
        {"periodSeconds", 5}}},
  };
}

// A log shipper next to the Ray container, as large production clusters often have.
Json sidecar() {
  return {{"name", "log-shipper"},
          {"image", "fluent/fluent-bit:2.2.0"},
          {"args", Json::array({"--config=/fluent-bit/etc/fluent-bit.conf", "--quiet"})},
          {"env", env_list("FLUENT_SETTING_", 24)},
          {"resources",
           {{"limits", {{"cpu", "200m"}, {"memory", "256Mi"}}}, {"requests", {{"cpu", "100m"}, {"memory", "128Mi"}}}}},
          {"volumeMounts", Json::array({{{"mountPath", "/tmp/ray"}, {"name", "ray-logs"}, {"readOnly", true}},
                                        {{"mountPath", "/fluent-bit/etc"}, {"name", "fluent-bit-config"}}})}};
}

Json pod_template(const std::string& name, int cpus, const std::string& memory, Shape shape) {
  Json containers = Json::array({container(name, cpus, memory)});
  Json volumes = Json::array(
      {{{"name", "ray-logs"}, {"emptyDir", Json::object()}}, {{"name", "dshm"}, {"emptyDir", {{"medium", "Memory"}}}}});
  if (shape == Shape::WithSidecar) {
    containers.push_back(sidecar());
    volumes.push_back({{"name", "fluent-bit-config"}, {"configMap", {{"name", "fluent-bit-config"}}}});
  }
  return {{"metadata", {{"labels", {{"app", "ray"}, {"team", "ml-platform"}}}}},
          {"spec",
           {{"serviceAccountName", "ray"},
            {"containers", containers},
            {"volumes", volumes},
            {"tolerations", Json::array({{{"key", "ray.io/node"}, {"operator", "Exists"}, {"effect", "NoSchedule"}}})},
            {"nodeSelector", {{"pool", "ray"}}},
            {"affinity",
             {{"nodeAffinity",
               {{"requiredDuringSchedulingIgnoredDuringExecution",
                 {{"nodeSelectorTerms",
                   Json::array(
                       {{{"matchExpressions",
                          Json::array({{{"key", "topology.kubernetes.io/zone"},
                                        {"operator", "In"},
                                        {"values", Json::array({"us-central1-a", "us-central1-b"})}}})}}})}}}}}}}}}};
}

// The managedFields tree (FieldsV1) of `v`: "f:<name>" for members, "k:{...}" for list items
// keyed by name, "." for a set container.
Json fields_v1(const Json& v) {
  Json out = Json::object();
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      Json child = fields_v1(it.value());
      if (it.value().is_structured()) child["."] = Json::object();
      out["f:" + it.key()] = std::move(child);
    }
  } else if (v.is_array()) {
    std::size_t i = 0;
    for (const Json& item : v) {
      std::string key = item.is_object() && item.contains("name") && item["name"].is_string()
                            ? "k:{\"name\":\"" + item["name"].get<std::string>() + "\"}"
                            : "i:" + std::to_string(i);
      ++i;
      Json child = fields_v1(item);
      child["."] = Json::object();
      out[key] = std::move(child);
    }
  }
  return out;
}

// The AdmissionReview the API server sends for `kubectl create` of a RayCluster.
std::string review(int worker_groups, Shape shape = Shape::Typical) {
  Json spec = {{"rayVersion", "2.9.0"},
               {"enableInTreeAutoscaling", true},
               {"headGroupSpec",
                {{"serviceType", "ClusterIP"},
                 {"rayStartParams", {{"dashboard-host", "0.0.0.0"}, {"num-cpus", "0"}}},
                 {"template", pod_template("ray-head", 4, "16Gi", Shape::Typical)}}}};
  Json workers = Json::array();
  for (int i = 0; i < worker_groups; ++i) {
    workers.push_back({{"groupName", "workers-" + std::to_string(i)},
                       {"replicas", 2},
                       {"minReplicas", 1},
                       {"maxReplicas", 10},
                       {"rayStartParams", Json::object()},
                       {"template", pod_template("ray-worker", 8, "32Gi", shape)}});
  }
  spec["workerGroupSpecs"] = workers;
  Json object = {{"apiVersion", "ray.io/v1"},
                 {"kind", "RayCluster"},
                 {"metadata",
                  {{"name", "bench"},
                   {"namespace", "ml"},
                   {"labels", {{"app.kubernetes.io/name", "bench"}, {"app.kubernetes.io/part-of", "training"}}}}},
                 {"spec", spec}};
  if (shape == Shape::Applied) {
    object["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = object.dump();
    Json fields = fields_v1(object);
    fields.erase("f:apiVersion");
    fields.erase("f:kind");
    object["metadata"]["managedFields"] = Json::array({{{"apiVersion", "ray.io/v1"},
                                                        {"fieldsType", "FieldsV1"},
                                                        {"fieldsV1", fields},
                                                        {"manager", "kubectl-client-side-apply"},
                                                        {"operation", "Update"},
                                                        {"time", "2026-11-23T10:00:00Z"}}});
  }
  Json gvk = {{"group", "ray.io"}, {"version", "v1"}, {"kind", "RayCluster"}};
  Json gvr = {{"group", "ray.io"}, {"version", "v1"}, {"resource", "rayclusters"}};
  Json r = {{"apiVersion", "admission.k8s.io/v1"},
            {"kind", "AdmissionReview"},
            {"request",
             {{"uid", "705ab4f5-6393-11e8-b7cc-42010a800002"},
              {"kind", gvk},
              {"resource", gvr},
              {"requestKind", gvk},
              {"requestResource", gvr},
              {"name", "bench"},
              {"namespace", "ml"},
              {"operation", "CREATE"},
              {"userInfo",
               {{"username", "kubernetes-admin"},
                {"uid", "aaaa-bbbb"},
                {"groups", Json::array({"system:masters", "system:authenticated"})}}},
              {"object", object},
              {"oldObject", nullptr},
              {"dryRun", false},
              {"options",
               {{"kind", "CreateOptions"}, {"apiVersion", "meta.k8s.io/v1"}, {"fieldManager", "kubectl-create"}}}}}};
  return r.dump();
}

// Fast: simdjson into Json, freed by Json's destructor; FastRelease: the same, freed by release();
// FastDiscard: the same, freed by the parser's discard(), as the server does.
enum class Parser { Nlohmann, Fast, FastRelease, FastDiscard };

Json parse(const std::string& body, Parser which, FastJsonParser& fast) {
  Json doc;
  if (which != Parser::Nlohmann) {
    std::string err;
    if (!fast.parse(body, doc, err)) return Json();
  } else {
    doc = Json::parse(body, nullptr, false);
  }
  return doc;
}

// One admission call as the server makes it: parse, evaluate, build and serialise the response.
std::size_t one_call(const std::string& body, const Policy& policy, Parser which, FastJsonParser& fast) {
  Json req = parse(body, which, fast);
  const Json& object = req["request"]["object"];
  Result r = evaluate(object, policy, Mode::Mutate);
  Json resp = {{"uid", req["request"]["uid"]}, {"allowed", r.allowed}};
  if (!r.patch.empty()) {
    resp["patchType"] = "JSONPatch";
    resp["patch"] = server::base64_encode(patch_text(r.patch));
  }
  Json out = {{"apiVersion", "admission.k8s.io/v1"}, {"kind", "AdmissionReview"}, {"response", std::move(resp)}};
  std::size_t size = to_json_text(out).size();
  if (which == Parser::FastRelease) release(req);
  if (which == Parser::FastDiscard) fast.discard(req);
  return size;
}

// The parse alone, the document freed as `which` says.
std::size_t parse_and_free(const std::string& body, Parser which, FastJsonParser& fast) {
  Json doc = parse(body, which, fast);
  std::size_t n = doc.size();
  if (which == Parser::FastRelease) release(doc);
  if (which == Parser::FastDiscard) fast.discard(doc);
  return n;
}

struct Stats {
  double median_us, p99_us;  // wall clock
  double cpu_median_us;      // the thread's CPU clock
  std::size_t allocations;   // heap blocks allocated by one call
};

double cpu_now_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

int g_best_of = 1;  // --best-of K

template <typename Fn>
Stats measure_once(Fn fn, int iterations) {
  std::vector<double> wall, cpu;
  wall.reserve(static_cast<std::size_t>(iterations));
  cpu.reserve(static_cast<std::size_t>(iterations));
  std::size_t sink = 0;
  for (int i = 0; i < std::max(1, iterations / 10); ++i) sink += fn();  // warm up
  const std::size_t before = g_allocations.load(std::memory_order_relaxed);
  sink += fn();
  const std::size_t allocations = g_allocations.load(std::memory_order_relaxed) - before;
  for (int i = 0; i < iterations; ++i) {
    double c0 = cpu_now_us();
    auto t0 = std::chrono::steady_clock::now();
    sink += fn();
    auto t1 = std::chrono::steady_clock::now();
    double c1 = cpu_now_us();
    wall.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    cpu.push_back(c1 - c0);
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  if (sink == 0) std::puts("(empty responses?)");
  auto p99 = [&](const std::vector<double>& v) { return v[std::min(v.size() - 1, v.size() * 99 / 100)]; };
  return {wall[wall.size() / 2], p99(wall), cpu[cpu.size() / 2], allocations};
}

// On a shared machine other processes take the cores now and then: each measurement is made
// g_best_of times and the run with the lowest median is kept.
template <typename Fn>
Stats measure(Fn fn, int iterations) {
  Stats best = measure_once(fn, iterations);
  for (int k = 1; k < g_best_of; ++k) {
    Stats s = measure_once(fn, iterations);
    if (s.median_us < best.median_us) best = s;
  }
  return best;
}

void row(const char* label, std::size_t bytes, const char* what, const Stats& s) {
  std::printf("%-26s %7zu  %-34s %10.1f %10.1f %10.1f %7zu\n", label, bytes, what, s.median_us, s.p99_us,
              s.cpu_median_us, s.allocations);
}

// Each rule's check alone, on the adapted typical review: where evaluate's time goes.
int per_rule(int groups) {
  std::string body = review(groups);
  Json doc = Json::parse(body);
  const Json& object = doc["request"]["object"];
  std::optional<Workload> w = adapt(object);
  if (!w) return 1;
  Policy policy;
  std::printf("%-34s %12s %10s %10s\n", "rule (typical review)", "median ns", "findings", "allocs");
  double total = 0;
  constexpr int kBatch = 50;  // calls per timing: the CPU clock costs about as much as a small rule
  for (const RuleInfo* rule : all_rules()) {
    std::vector<Finding> findings;
    Stats s = measure(
        [&] {
          for (int i = 0; i < kBatch; ++i) {
            findings.clear();
            Reporter reporter(*rule, policy, findings);
            rule->check(*w, reporter);
          }
          return std::size_t{1};
        },
        2000);
    double ns = s.cpu_median_us * 1000.0 / kBatch;
    total += ns;
    std::printf("%-34.*s %12.0f %10zu %10.0f\n", static_cast<int>(rule->name.size()), rule->name.data(), ns,
                findings.size(), static_cast<double>(s.allocations) / kBatch);
  }
  std::printf("%-34s %12.0f\n", "sum", total);
  Stats a = measure(
      [&] {
        std::size_t n = 0;
        for (int i = 0; i < kBatch; ++i) n += adapt(object)->groups.size();
        return n;
      },
      2000);
  std::printf("%-34s %12.0f %10s %10.0f\n", "(adapt: the object seen as groups)", a.cpu_median_us * 1000.0 / kBatch, "",
              static_cast<double>(a.allocations) / kBatch);
  return 0;
}

int usage() {
  std::fprintf(stderr,
               "usage: engine_bench [--quick] [--best-of K] | --dump-review N_GROUPS | --per-rule N_GROUPS | --profile "
               "whole|validate|mutate N_GROUPS ITERATIONS\n");
  return 2;
}

int count_arg(const char* s, int max) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < 0 || v > max) return -1;
  return static_cast<int>(v);
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  if (argc == 3 && std::strcmp(argv[1], "--dump-review") == 0) {
    int n = count_arg(argv[2], 10000);
    if (n < 0) return usage();
    std::puts(review(n).c_str());
    return 0;
  }
  if (argc == 3 && std::strcmp(argv[1], "--per-rule") == 0) {
    int n = count_arg(argv[2], 10000);
    if (n < 0) return usage();
    return per_rule(n);
  }
  if (argc == 5 && std::strcmp(argv[1], "--profile") == 0) {
    const std::string what = argv[2];
    int n = count_arg(argv[3], 10000), iterations = count_arg(argv[4], 100000000);
    if (n < 0 || iterations < 0 || (what != "whole" && what != "validate" && what != "mutate")) return usage();
    std::string body = review(n);
    Policy policy;
    FastJsonParser fast;
    server::AdmissionHandler handler(server::AdmissionOptions{});
    std::size_t sink = 0;
    for (int i = 0; i < iterations; ++i) {
      if (what == "whole") {
        sink += one_call(body, policy, Parser::FastDiscard, fast);
      } else {
        server::Decision d;
        server::Webhook w = what == "mutate" ? server::Webhook::Mutate : server::Webhook::Validate;
        sink += handler.review(w, {"POST", "/" + what, "application/json", body}, policy, d).body.size();
      }
    }
    std::printf("%d calls, %zu response bytes\n", iterations, sink);
    return 0;
  }
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--best-of") == 0 && i + 1 < argc && count_arg(argv[i + 1], 100) >= 1) {
      g_best_of = count_arg(argv[++i], 100);
    } else {
      return usage();
    }
  }

  const int scale = quick ? 50 : 1;
  Policy policy;
  FastJsonParser fast;
  FastJsonParser server_parser;  // leaves out what the server's does (managedFields, status)
  std::string skip_error;
  server_parser.skip(server::skipped_pointers(), skip_error);
  server::AdmissionHandler handler(server::AdmissionOptions{});
  struct Case {
    const char* label;
    int groups;
    Shape shape;
    int iterations;
    bool detail;  // every line, or only the whole calls
  };
  const Case cases[] = {
      {"typical (head + 2 groups)", 2, Shape::Typical, 20000, true},
      {"typical, kubectl apply", 2, Shape::Applied, 10000, true},
      {"large (head + 50 groups)", 50, Shape::WithSidecar, 400, true},
      {"head + 1 group", 1, Shape::Typical, 20000, false},
      {"head + 10 groups", 10, Shape::Typical, 4000, false},
      {"head + 100 groups", 100, Shape::Typical, 400, false},
  };
  std::printf("%-26s %7s  %-34s %10s %10s %10s %7s\n", "review", "bytes", "what (microseconds per call)", "median",
              "p99", "cpu_median", "allocs");
  // The growth series: parse, engine and whole call for 1, 10 and 100 groups.
  struct Growth {
    Stats parse, engine, whole;
  };
  std::vector<Growth> growth;
  for (const Case& c : cases) {
    const std::string body = review(c.groups, c.shape);
    const int n = std::max(10, c.iterations / scale);
    const Json doc = Json::parse(body);
    const Json& object = doc["request"]["object"];
    if (c.detail) {
      row(c.label, body.size(), "parse+free: nlohmann",
          measure([&] { return parse_and_free(body, Parser::Nlohmann, fast); }, n));
      row(c.label, body.size(), "parse+free: simdjson into Json",
          measure([&] { return parse_and_free(body, Parser::Fast, fast); }, n));
    }
    if (c.detail) {
      row(c.label, body.size(), "parse+release(): simdjson",
          measure([&] { return parse_and_free(body, Parser::FastRelease, fast); }, n));
    }
    Stats parse = measure([&] { return parse_and_free(body, Parser::FastDiscard, fast); }, n);
    row(c.label, body.size(), "parse+discard(): simdjson", parse);
    if (c.detail) {
      row(c.label, body.size(), "  the same, as the server parses",
          measure([&] { return parse_and_free(body, Parser::FastDiscard, server_parser); }, n));
    }
    Stats engine = measure([&] { return evaluate(object, policy, Mode::Mutate).findings.size() + 1; }, n);
    row(c.label, body.size(), "engine: evaluate (Mutate)", engine);
    if (c.detail) {
      row(c.label, body.size(), "whole call, nlohmann parse",
          measure([&] { return one_call(body, policy, Parser::Nlohmann, fast); }, n));
      row(c.label, body.size(), "whole call, simdjson parse",
          measure([&] { return one_call(body, policy, Parser::Fast, fast); }, n));
    }
    if (c.detail) {
      row(c.label, body.size(), "whole call, simdjson + release()",
          measure([&] { return one_call(body, policy, Parser::FastRelease, fast); }, n));
    }
    Stats whole = measure([&] { return one_call(body, policy, Parser::FastDiscard, fast); }, n);
    row(c.label, body.size(), "whole call, simdjson + discard()", whole);
    if (c.detail) {
      // The server's own handler (server/admission.h): content checks, depth scan, parse,
      // evaluate, warnings, response. It parses with whatever the server uses.
      for (server::Webhook w : {server::Webhook::Validate, server::Webhook::Mutate}) {
        const std::string what = "server handler, /" + std::string(server::to_string(w));
        const std::string path = "/" + std::string(server::to_string(w));
        row(c.label, body.size(), what.c_str(),
            measure(
                [&] {
                  server::Decision d;
                  return handler.review(w, {"POST", path, "application/json", body}, policy, d).body.size();
                },
                n));
      }
    }
    if (c.shape == Shape::Typical && c.groups != 2) growth.push_back({parse, engine, whole});
  }
  // Linear growth: the cost of one more worker group should not depend on how many there are.
  if (growth.size() == 3) {
    std::printf("\nper extra worker group (CPU medians)     1->10 groups  10->100 groups\n");
    auto line = [&](const char* what, Stats Growth::*s) {
      std::printf("  %-36s %9.2f us  %11.2f us\n", what,
                  ((growth[1].*s).cpu_median_us - (growth[0].*s).cpu_median_us) / 9,
                  ((growth[2].*s).cpu_median_us - (growth[1].*s).cpu_median_us) / 90);
    };
    line("parse+discard(): simdjson", &Growth::parse);
    line("engine: evaluate (Mutate)", &Growth::engine);
    line("whole call, simdjson + discard()", &Growth::whole);
  }
  return 0;
}
