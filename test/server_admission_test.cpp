// The AdmissionReview protocol layer (server/admission.h), without sockets: every answer the API
// server can get, checked against RULES.md section 5 and the issue's protocol list.
#include "rules/patch.h"
#include "rules/rule.h"
#include "server/admission.h"

#include <doctest/doctest.h>

#include <atomic>
#include <stdexcept>

using namespace ray_admission;
using namespace ray_admission::server;

namespace {

std::string review_body(const Json& request, std::string_view api_version = "admission.k8s.io/v1") {
  Json j = Json::object();
  j["apiVersion"] = api_version;
  j["kind"] = "AdmissionReview";
  j["request"] = request;
  return j.dump();
}

Json ray_cluster(std::string name = "demo") {
  return Json::parse(
      R"({"apiVersion":"ray.io/v1","kind":"RayCluster","metadata":{"name":")" + name +
      R"(","namespace":"ns"},"spec":{"headGroupSpec":{"rayStartParams":{},"template":{"spec":{"containers":[{"name":"ray-head","image":"rayproject/ray:2.9.0"}]}}}}})");
}

Json request_for(const Json& object, std::string op = "CREATE") {
  Json r = Json::object();
  r["uid"] = "0df28fbd-5f5f-11e8-bc74-36e6bb280816";
  r["kind"] = {{"group", "ray.io"}, {"version", "v1"}, {"kind", "RayCluster"}};
  r["operation"] = op;
  r["namespace"] = "ns";
  r["name"] = "demo";
  r["object"] = object;
  return r;
}

Finding finding(std::string rule, Action action, std::string message, Patch fix = {}, bool applied = false) {
  Finding f;
  f.rule = std::move(rule);
  f.action = action;
  f.message = std::move(message);
  f.fix = std::move(fix);
  f.fix_applied = applied;
  return f;
}

// An evaluator that returns what the test says, and counts its calls.
struct Scripted {
  std::vector<Finding> findings;
  Patch patch;
  std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);
  Evaluator fn() const {
    auto self = *this;
    return [self](const Json&, const Policy&, Mode mode) {
      ++*self.calls;
      Result r;
      r.recognised = true;
      r.findings = self.findings;
      if (mode == Mode::Mutate) r.patch = self.patch;
      r.allowed = r.denials().empty();
      return r;
    };
  }
};

struct Answer {
  HttpResponse http;
  Decision decision;
  Json json;
};

Answer ask(const AdmissionHandler& h, Webhook w, const std::string& body, const Policy& policy = Policy{},
           std::string_view content_type = "application/json") {
  Answer a;
  a.http =
      h.review(w, {"POST", w == Webhook::Validate ? "/validate" : "/mutate", content_type, body}, policy, a.decision);
  a.json = Json::parse(a.http.body, nullptr, false);
  REQUIRE_FALSE(a.json.is_discarded());
  return a;
}

std::string base64_decode(const std::string& in) {
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned v = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    v = (v << 6) | static_cast<unsigned>(kAlphabet.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((v >> bits) & 0xFF);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("server: routes by method and path") {
  CHECK(route("POST", "/validate") == Route::Validate);
  CHECK(route("POST", "/mutate") == Route::Mutate);
  CHECK(route("GET", "/validate") == Route::MethodNotAllowed);
  CHECK(route("PUT", "/mutate") == Route::MethodNotAllowed);
  CHECK(route("GET", "/healthz") == Route::Healthz);
  CHECK(route("HEAD", "/readyz") == Route::Readyz);
  CHECK(route("GET", "/metrics") == Route::Metrics);
  CHECK(route("POST", "/metrics") == Route::MethodNotAllowed);
  CHECK(route("POST", "/validate/") == Route::NotFound);
  CHECK(route("GET", "/") == Route::NotFound);
}

TEST_CASE("server: helpers") {
  CHECK(is_json_content_type("application/json"));
  CHECK(is_json_content_type("Application/JSON; charset=utf-8"));
  CHECK_FALSE(is_json_content_type(""));
  CHECK_FALSE(is_json_content_type("application/yaml"));
  CHECK_FALSE(is_json_content_type("application/jsonx"));

  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  CHECK(base64_encode("foob") == "Zm9vYg==");
  CHECK(base64_encode("fooba") == "Zm9vYmE=");
  CHECK(base64_encode(std::string("\xff\x00\xfe", 3)) == "/wD+");

  CHECK(clip_warning("a\nb\tc", 256) == "a b c");
  CHECK(clip_warning(std::string(300, 'x'), 256).size() == 256);
  std::string accents;
  for (int i = 0; i < 200; ++i) accents += "\xC3\xA9";  // é, two bytes each
  std::string clipped = clip_warning(accents, 255);
  CHECK(clipped.size() == 254);  // never half a character
  CHECK(Json(clipped).dump().size() > 0);
}

TEST_CASE("server: only_metadata_changed") {
  Json a = ray_cluster();
  Json b = a;
  b["metadata"]["labels"] = {{"team", "x"}};
  b["metadata"]["annotations"] = {{"note", "y"}};
  b["metadata"]["finalizers"] = Json::array({"ray.io/gcs-ft-redis-cleanup-finalizer"});
  b["metadata"]["resourceVersion"] = "42";
  b["status"] = {{"state", "ready"}};
  CHECK(only_metadata_changed(b, a));
  Json c = a;
  c["spec"]["headGroupSpec"]["serviceType"] = "NodePort";
  CHECK_FALSE(only_metadata_changed(c, a));
  Json d = a;
  d["metadata"]["ownerReferences"] = Json::array({{{"kind", "RayJob"}}});
  CHECK_FALSE(only_metadata_changed(d, a));
  // Member order does not matter.
  Json e = Json::parse(R"({"b":1,"a":{"y":2,"x":1}})");
  Json f = Json::parse(R"({"a":{"x":1,"y":2},"b":1})");
  CHECK(json_equal(e, f));
  // Large objects, in the same order, reversed, and differing in one member or one key.
  Json big = Json::object(), reversed = Json::object();
  for (int i = 0; i < 2000; ++i) big["k" + std::to_string(i)] = i;
  for (int i = 1999; i >= 0; --i) reversed["k" + std::to_string(i)] = i;
  CHECK(json_equal(big, reversed));
  CHECK(json_equal(reversed, big));
  Json changed = reversed;
  changed["k1000"] = -1;
  CHECK_FALSE(json_equal(big, changed));
  Json renamed = big;
  renamed.erase("k5");
  renamed["other"] = 5;
  CHECK_FALSE(json_equal(big, renamed));
  Json g = a, h = a;
  g["metadata"]["annotations"] = big;
  h["metadata"]["annotations"] = changed;
  g["spec"]["extra"] = big;
  h["spec"]["extra"] = reversed;
  CHECK(only_metadata_changed(g, h));
  h["spec"]["extra"] = changed;
  CHECK_FALSE(only_metadata_changed(g, h));
}

TEST_CASE("server: bad requests get the right status and a JSON Status body") {
  AdmissionHandler h(AdmissionOptions{});
  struct Bad {
    std::string body;
    std::string content_type;
    int status;
    std::string words;
  };
  Json no_uid = request_for(ray_cluster());
  no_uid.erase("uid");
  Json bad_op = request_for(ray_cluster(), "PATCH");
  Json no_object = request_for(ray_cluster());
  no_object.erase("object");
  const std::vector<Bad> cases = {
      {review_body(request_for(ray_cluster())), "text/plain", 415, "Content-Type"},
      {review_body(request_for(ray_cluster())), "", 415, "Content-Type"},
      {"", "application/json", 400, "empty"},
      {"{not json", "application/json", 400, "not valid JSON"},
      {"[1,2]", "application/json", 400, "not a JSON object"},
      {review_body(request_for(ray_cluster()), "admission.k8s.io/v2"), "application/json", 400, "apiVersion"},
      {R"({"apiVersion":"admission.k8s.io/v1","kind":"Pod","request":{"uid":"x"}})", "application/json", 400, "kind"},
      {R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"})", "application/json", 400, "no request"},
      {review_body(no_uid), "application/json", 400, "uid"},
      {review_body(bad_op), "application/json", 400, "operation"},
      {review_body(no_object), "application/json", 400, "object"},
      {std::string(1000, '[') + std::string(1000, ']'), "application/json", 400, "deeper than 128 levels"},
      // The limit is 128 levels: 128 parse (and are then not an object), 129 do not.
      {std::string(128, '[') + std::string(128, ']'), "application/json", 400, "not a JSON object"},
      {std::string(129, '[') + std::string(129, ']'), "application/json", 400, "deeper than 128 levels"},
      {R"({"a":)" + std::string(127, '[') + std::string(127, ']') + "}", "application/json", 400, "apiVersion"},
      {R"({"a":)" + std::string(128, '[') + std::string(128, ']') + "}", "application/json", 400, "deeper"},
      {std::string(100000, '['), "application/json", 400, "not valid JSON"},  // unclosed: invalid first
  };
  for (const Bad& b : cases) {
    INFO(b.body.substr(0, 80), " / ", b.content_type);
    Decision d;
    HttpResponse r = h.review(Webhook::Validate, {"POST", "/validate", b.content_type, b.body}, Policy{}, d);
    CHECK(r.status == b.status);
    CHECK(d.status == b.status);
    CHECK(d.result() == "invalid");
    Json j = Json::parse(r.body, nullptr, false);
    REQUIRE(j.is_object());
    CHECK(j["kind"] == "Status");
    CHECK(j["code"] == b.status);
    CHECK(j["message"].get<std::string>().find(b.words) != std::string::npos);
  }
  // Over the size cap.
  AdmissionOptions small;
  small.max_body = 100;
  AdmissionHandler hs(small);
  Decision d;
  CHECK(
      hs.review(Webhook::Mutate, {"POST", "/mutate", "application/json", std::string(101, ' ')}, Policy{}, d).status ==
      413);
  // The error never quotes the body.
  HttpResponse r =
      h.review(Webhook::Validate, {"POST", "/validate", "application/json", "{\"secret-value\" 1}"}, Policy{}, d);
  CHECK(r.status == 400);
  CHECK(r.body.find("secret-value") == std::string::npos);
}

TEST_CASE("server: the answer echoes the version and the uid") {
  AdmissionHandler h(AdmissionOptions{});
  for (std::string v : {"admission.k8s.io/v1", "admission.k8s.io/v1beta1"}) {
    for (Webhook w : {Webhook::Validate, Webhook::Mutate}) {
      Answer a = ask(h, w, review_body(request_for(ray_cluster()), v));
      CHECK(a.http.status == 200);
      CHECK(a.json["apiVersion"] == v);
      CHECK(a.json["kind"] == "AdmissionReview");
      CHECK(a.json["response"]["uid"] == "0df28fbd-5f5f-11e8-bc74-36e6bb280816");
      CHECK(a.json["response"]["allowed"].is_boolean());
      CHECK(a.decision.api_version == v);
      CHECK(a.decision.kind == "RayCluster");
      CHECK(a.decision.namespace_ == "ns");
    }
  }
}

TEST_CASE("server: DELETE and CONNECT are allowed at once") {
  Scripted s;
  s.findings = {finding("rule-a", Action::Deny, "bad")};
  AdmissionHandler h(AdmissionOptions{}, s.fn());
  for (std::string op : {"DELETE", "CONNECT"}) {
    Json req = request_for(ray_cluster(), op);
    req["object"] = nullptr;  // a DELETE carries oldObject, not object
    Answer a = ask(h, Webhook::Validate, review_body(req));
    CHECK(a.json["response"]["allowed"] == true);
    CHECK(a.decision.exemption != "");
  }
  CHECK(*s.calls == 0);
}

TEST_CASE("server: denial, warnings, and never a patch from /validate") {
  Scripted s;
  s.findings = {finding("rule-a", Action::Deny, "spec.x is wrong: set it to 1"),
                finding("rule-b", Action::Warn, "spec.y looks odd"),
                finding("rule-c", Action::Deny, "spec.z is wrong: remove it")};
  s.patch = {add_op("/spec/q", 1)};
  AdmissionHandler h(AdmissionOptions{}, s.fn());
  Answer a = ask(h, Webhook::Validate, review_body(request_for(ray_cluster())));
  const Json& r = a.json["response"];
  CHECK(r["allowed"] == false);
  CHECK(r["status"]["code"] == 403);
  std::string msg = r["status"]["message"];
  CHECK(msg.find("[rule-a] spec.x is wrong: set it to 1") != std::string::npos);
  CHECK(msg.find("[rule-c] spec.z is wrong: remove it") != std::string::npos);
  CHECK(r["warnings"] == Json::array({"[rule-b] spec.y looks odd"}));
  CHECK_FALSE(r.contains("patch"));
  CHECK_FALSE(r.contains("patchType"));
  CHECK(a.decision.result() == "denied");
  CHECK(a.decision.findings.size() == 3);

  // /mutate denies too, and a denied answer carries no patch.
  Answer m = ask(h, Webhook::Mutate, review_body(request_for(ray_cluster())));
  CHECK(m.json["response"]["allowed"] == false);
  CHECK_FALSE(m.json["response"].contains("patch"));
}

TEST_CASE("server: a denial lists at most 20 problems and counts the rest") {
  Scripted s;
  for (int i = 0; i < 25; ++i) {
    s.findings.push_back(finding("rule-a", Action::Deny, "spec.g[" + std::to_string(i) + "] is wrong"));
  }
  AdmissionHandler h(AdmissionOptions{}, s.fn());
  Answer a = ask(h, Webhook::Validate, review_body(request_for(ray_cluster())));
  const std::string msg = a.json["response"]["status"]["message"];
  CHECK(msg.rfind("25 problems:\n[rule-a] spec.g[0] is wrong\n", 0) == 0);
  CHECK(msg.find("[rule-a] spec.g[19] is wrong\n... and 5 more (") != std::string::npos);
  CHECK(msg.find("spec.g[20]") == std::string::npos);
  CHECK(a.decision.findings.size() == 25);  // the decision log still has them all

  s.findings.resize(20);  // exactly the limit: all listed, nothing counted
  AdmissionHandler h20(AdmissionOptions{}, s.fn());
  const std::string all =
      ask(h20, Webhook::Validate, review_body(request_for(ray_cluster()))).json["response"]["status"]["message"];
  CHECK(all.find("spec.g[19] is wrong") != std::string::npos);
  CHECK(all.find("more (") == std::string::npos);
}

TEST_CASE("server: /mutate returns the patch with its type, and notes applied fixes") {
  Scripted s;
  s.findings = {
      finding("rule-fixed", Action::Deny, "memory is a quantity: converted to bytes", {add_op("/a", 1)}, true),
      finding("rule-default", Action::Off, "no preStop hook", {add_op("/b", 1)}, true)};
  s.patch = {add_op("/spec/a", 1), add_op("/spec/b", Json::object())};
  AdmissionHandler h(AdmissionOptions{}, s.fn());
  Answer m = ask(h, Webhook::Mutate, review_body(request_for(ray_cluster())));
  const Json& r = m.json["response"];
  CHECK(r["allowed"] == true);
  CHECK(r["patchType"] == "JSONPatch");
  Json patch = Json::parse(base64_decode(r["patch"]));
  CHECK(patch == patch_to_json(s.patch));
  REQUIRE(r["warnings"].size() == 1);  // the default added silently; the fixed violation noted
  CHECK(r["warnings"][0].get<std::string>().find("[rule-fixed]") == 0);
  CHECK(m.decision.patch_ops == 2);
  CHECK(m.decision.result() == "patched");

  // No patch: neither patch nor patchType.
  Scripted none;
  AdmissionHandler h2(AdmissionOptions{}, none.fn());
  Answer n = ask(h2, Webhook::Mutate, review_body(request_for(ray_cluster())));
  CHECK_FALSE(n.json["response"].contains("patch"));
  CHECK_FALSE(n.json["response"].contains("patchType"));
  CHECK_FALSE(n.json["response"].contains("warnings"));
}

TEST_CASE("server: warnings stay within 256 characters each and 4096 in all") {
  Scripted s;
  for (int i = 0; i < 40; ++i)
    s.findings.push_back(finding("rule-" + std::to_string(i), Action::Warn, std::string(300, 'w')));
  AdmissionHandler h(AdmissionOptions{}, s.fn());
  Answer a = ask(h, Webhook::Validate, review_body(request_for(ray_cluster())));
  const Json& w = a.json["response"]["warnings"];
  std::size_t total = 0;
  for (const Json& x : w) {
    CHECK(x.get<std::string>().size() <= 256);
    total += x.get<std::string>().size();
  }
  CHECK(total <= 4096);
  CHECK(w.back().get<std::string>().find("more warnings") != std::string::npos);
  CHECK(w.size() < 40);
}

TEST_CASE("server: the audit profile adds audit annotations") {
  Scripted s;
  s.findings = {finding("rule-a", Action::Warn, "first"), finding("rule-a", Action::Warn, "second"),
                finding("rule-b", Action::Warn, "third")};
  AdmissionHandler h(AdmissionOptions{}, s.fn());
  Policy audit;
  audit.profile = Profile::Audit;
  Answer a = ask(h, Webhook::Validate, review_body(request_for(ray_cluster())), audit);
  const Json& ann = a.json["response"]["auditAnnotations"];
  CHECK(ann["rule-a"] == "first; second");
  CHECK(ann["rule-b"] == "third");
  Answer d = ask(h, Webhook::Validate, review_body(request_for(ray_cluster())));
  CHECK_FALSE(d.json["response"].contains("auditAnnotations"));
}

TEST_CASE("server: UPDATE never blocks a deletion or a metadata-only change") {
  Scripted s;
  s.findings = {finding("rule-a", Action::Deny, "bad")};
  AdmissionHandler h(AdmissionOptions{}, s.fn());
  Json old = ray_cluster();
  Json obj = old;
  obj["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z";
  obj["metadata"]["finalizers"] = Json::array();
  obj["spec"]["headGroupSpec"]["serviceType"] = "Bogus";  // even a spec change
  Json req = request_for(obj, "UPDATE");
  req["oldObject"] = old;
  Answer a = ask(h, Webhook::Validate, review_body(req));
  CHECK(a.json["response"]["allowed"] == true);
  CHECK(a.decision.exemption == "deleting");

  Json labelled = old;
  labelled["metadata"]["labels"] = {{"a", "b"}};
  labelled["status"] = {{"state", "ready"}};
  req = request_for(labelled, "UPDATE");
  req["oldObject"] = old;
  a = ask(h, Webhook::Mutate, review_body(req));
  CHECK(a.json["response"]["allowed"] == true);
  CHECK_FALSE(a.json["response"].contains("patch"));
  CHECK(a.decision.exemption == "metadata-only");
  CHECK(*s.calls == 0);

  // A spec change is reviewed.
  Json changed = old;
  changed["spec"]["headGroupSpec"]["serviceType"] = "NodePort";
  req = request_for(changed, "UPDATE");
  req["oldObject"] = old;
  a = ask(h, Webhook::Validate, review_body(req));
  CHECK(a.json["response"]["allowed"] == false);
}

TEST_CASE("server: a rule the old object already broke only warns when the spec is unchanged") {
  // The evaluator denies rule-old on both objects, and rule-new only on the new one.
  Evaluator eval = [](const Json& o, const Policy&, Mode) {
    Result r;
    r.recognised = true;
    r.findings.push_back(finding("rule-old", Action::Deny, "was already wrong"));
    if (o["metadata"].contains("ownerReferences"))
      r.findings.push_back(finding("rule-new", Action::Deny, "new problem"));
    r.allowed = r.denials().empty();
    return r;
  };
  AdmissionHandler h(AdmissionOptions{}, eval);
  Json old = ray_cluster();
  Json obj = old;
  obj["metadata"]["ownerReferences"] = Json::array({{{"kind", "RayJob"}, {"name", "j"}}});
  Json req = request_for(obj, "UPDATE");
  req["oldObject"] = old;
  Answer a = ask(h, Webhook::Validate, review_body(req));
  CHECK(a.json["response"]["allowed"] == false);
  std::string msg = a.json["response"]["status"]["message"];
  CHECK(msg.find("rule-new") != std::string::npos);
  CHECK(msg.find("rule-old") == std::string::npos);
  CHECK(a.json["response"]["warnings"][0].get<std::string>().find("[rule-old]") == 0);

  // Only the old problem: allowed with a warning.
  Json same = old;
  same["metadata"]["generateName"] = "x-";  // a metadata field that is not exempt
  req = request_for(same, "UPDATE");
  req["oldObject"] = old;
  a = ask(h, Webhook::Validate, review_body(req));
  CHECK(a.json["response"]["allowed"] == true);

  // The spec changed: the old problem denies again.
  Json edited = old;
  edited["spec"]["headGroupSpec"]["serviceType"] = "NodePort";
  req = request_for(edited, "UPDATE");
  req["oldObject"] = old;
  a = ask(h, Webhook::Validate, review_body(req));
  CHECK(a.json["response"]["allowed"] == false);
}

TEST_CASE("server: dryRun gets the same answer") {
  AdmissionHandler h(AdmissionOptions{});
  Json req = request_for(ray_cluster());
  Answer a = ask(h, Webhook::Mutate, review_body(req));
  req["dryRun"] = true;
  Answer b = ask(h, Webhook::Mutate, review_body(req));
  CHECK(a.http.body == b.http.body);
  CHECK(b.decision.dry_run);
}

TEST_CASE("server: an internal error fails only that request") {
  Evaluator boom = [](const Json&, const Policy&, Mode) -> Result { throw std::runtime_error("boom"); };
  AdmissionHandler h(AdmissionOptions{}, boom);
  Decision d;
  std::string body = review_body(request_for(ray_cluster()));
  HttpResponse v = h.review(Webhook::Validate, {"POST", "/validate", "application/json", body}, Policy{}, d);
  CHECK(v.status == 500);
  CHECK(d.result() == "error");
  Answer m = ask(h, Webhook::Mutate, body);
  CHECK(m.http.status == 200);
  CHECK(m.json["response"]["allowed"] == true);
  CHECK(m.json["response"]["uid"] == "0df28fbd-5f5f-11e8-bc74-36e6bb280816");
  CHECK(m.json["response"]["warnings"][0].get<std::string>().find("internal error") != std::string::npos);
  CHECK_FALSE(m.json["response"].contains("patch"));
  CHECK(m.decision.result() == "error");

  AdmissionOptions closed;
  closed.mutate_fail_open = false;
  AdmissionHandler hc(closed, boom);
  CHECK(hc.review(Webhook::Mutate, {"POST", "/mutate", "application/json", body}, Policy{}, d).status == 500);

  // The fault-injection annotation works only when the option is on.
  Json obj = ray_cluster();
  obj["metadata"]["annotations"] = {{"ray-admission.io/test-fault", "throw"}};
  std::string faulty = review_body(request_for(obj));
  AdmissionHandler plain(AdmissionOptions{});
  CHECK(plain.review(Webhook::Validate, {"POST", "/validate", "application/json", faulty}, Policy{}, d).status == 200);
  AdmissionOptions fi;
  fi.fault_injection = true;
  AdmissionHandler injecting(fi);
  CHECK(injecting.review(Webhook::Validate, {"POST", "/validate", "application/json", faulty}, Policy{}, d).status ==
        500);
}

TEST_CASE("server: with the real engine, the patch applies and a second pass yields none") {
  AdmissionHandler h(AdmissionOptions{});
  Answer m = ask(h, Webhook::Mutate, review_body(request_for(ray_cluster())));
  REQUIRE(m.json["response"].contains("patch"));
  Json patch = Json::parse(base64_decode(m.json["response"]["patch"]));
  Json object = ray_cluster();
  Json patched = object.patch(patch);
  Answer again = ask(h, Webhook::Mutate, review_body(request_for(patched)));
  CHECK_FALSE(again.json["response"].contains("patch"));
}

TEST_CASE("server: managedFields and status, which the parse leaves out, change nothing in the answer") {
  AdmissionHandler h(AdmissionOptions{});
  Json plain = ray_cluster();
  plain["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["image"] = "rayproject/ray:2.8.0";
  plain["spec"]["rayVersion"] = "2.9.0";  // a denial (version mismatch) and a patch (preStop)
  Json noisy = plain;
  noisy["metadata"]["managedFields"] =
      Json::parse(R"([{"manager":"kubectl","operation":"Apply","fieldsType":"FieldsV1",)"
                  R"("fieldsV1":{"f:spec":{"f:rayVersion":{},"f:headGroupSpec":{".":{}}}}}])");
  noisy["status"] = {{"state", "ready"}, {"head", {{"podIP", "10.0.0.1"}}}};
  Json old_plain = plain, old_noisy = noisy;
  old_noisy["status"]["state"] = "suspended";  // differs only where the parse does not look
  for (Webhook w : {Webhook::Validate, Webhook::Mutate}) {
    for (const std::string op : {"CREATE", "UPDATE"}) {
      Json a = request_for(plain, op), b = request_for(noisy, op);
      if (op == "UPDATE") {
        a["oldObject"] = old_plain;
        b["oldObject"] = old_noisy;
      }
      Decision da, db;
      HttpResponse ra = h.review(w, {"POST", "/", "application/json", review_body(a)}, Policy{}, da);
      HttpResponse rb = h.review(w, {"POST", "/", "application/json", review_body(b)}, Policy{}, db);
      INFO(to_string(w), " ", op);
      CHECK(ra.status == 200);
      CHECK(rb.body == ra.body);
      CHECK(db.exemption == da.exemption);
      CHECK(db.findings == da.findings);
    }
  }
}
