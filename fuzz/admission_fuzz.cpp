// libFuzzer target: the AdmissionReview handler (server/admission.h), the layer every request
// body reaches. Input: one byte of options, then the body.
//   bit 0: /validate or /mutate;  bits 1-2: profile (default, strict, audit, default ignoring
//   skip annotations);  bit 3: a non-JSON Content-Type;  bit 4: /mutate fails closed.
// Beyond "no crash, no sanitizer report", it checks the contract with the API server
// (RULES.md sections 4 and 5) on every answer.
#include "rules/patch.h"
#include "server/admission.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

using namespace ray_admission;
using namespace ray_admission::server;

namespace {

[[noreturn]] void fail(const char* what) {
  (void)what;  // visible in the debugger and in the crash's stack
  std::abort();
}

void require(bool cond, const char* what) {
  if (!cond) fail(what);
}

std::string base64_decode(const std::string& in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  unsigned v = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    int d = value(c);
    require(d >= 0, "patch is not base64");
    v = (v << 6) | static_cast<unsigned>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((v >> bits) & 0xFF);
    }
  }
  return out;
}

// The object the request carried, when the body is an AdmissionReview with one.
const Json* request_object(const Json& review) {
  if (!review.is_object()) return nullptr;
  auto req = review.find("request");
  if (req == review.end() || !req->is_object()) return nullptr;
  auto obj = req->find("object");
  return obj == req->end() ? nullptr : &*obj;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);

  AdmissionOptions opts;
  opts.max_body = 1u << 20;
  opts.mutate_fail_open = (mode & 16) == 0;
  AdmissionHandler handler(opts);
  Policy policy;
  switch ((mode >> 1) & 3) {
    case 1: policy.profile = Profile::Strict; break;
    case 2: policy.profile = Profile::Audit; break;
    case 3: policy.honor_skip_annotation = false; break;
    default: break;
  }
  const Webhook webhook = (mode & 1) != 0 ? Webhook::Mutate : Webhook::Validate;
  const std::string_view content_type = (mode & 8) != 0 ? "text/plain" : "application/json; charset=utf-8";

  Decision d;
  HttpResponse r = handler.review(webhook, {"POST", "/", content_type, body}, policy, d);
  require(r.status == d.status || d.internal_error, "decision status");
  Json out = Json::parse(r.body, nullptr, false);
  require(out.is_object(), "the answer is not a JSON object");
  if (r.status != 200) {
    require(r.status == 400 || r.status == 413 || r.status == 415 || r.status == 500, "unexpected status");
    require(out["kind"] == "Status" && out["code"] == r.status, "error body");
    return 0;
  }
  Json in = Json::parse(body, nullptr, false);
  require(out["kind"] == "AdmissionReview", "kind");
  require(in.is_object() && out["apiVersion"] == in["apiVersion"], "the version asked");
  const Json& resp = out["response"];
  require(resp.is_object() && resp["uid"] == in["request"]["uid"], "uid");
  require(resp["allowed"].is_boolean(), "allowed");
  require(resp.contains("patch") == resp.contains("patchType"), "patch and patchType together");
  if (webhook == Webhook::Validate) require(!resp.contains("patch"), "a patch from /validate");
  if (!resp["allowed"].get<bool>()) {
    require(resp["status"]["code"] == 403, "denial code");
    require(!resp.contains("patch"), "a patch with a denial");
  }
  if (policy.profile == Profile::Audit) require(resp["allowed"].get<bool>(), "the audit profile denied");
  if (resp.contains("warnings")) {
    std::size_t total = 0;
    for (const Json& w : resp["warnings"]) {
      require(w.is_string() && w.get_ref<const std::string&>().size() <= kMaxWarningLength, "warning length");
      total += w.get_ref<const std::string&>().size();
    }
    require(total <= kMaxWarningsTotal, "warnings total");
  }
  if (resp.contains("patch")) {
    require(resp["patchType"] == "JSONPatch", "patchType");
    Json ops = Json::parse(base64_decode(resp["patch"].get<std::string>()), nullptr, false);
    require(ops.is_array() && !ops.empty(), "the patch is not a JSON array");
    // The patch applies to the object, and mutating the result again changes nothing.
    const Json* object = request_object(in);
    require(object != nullptr, "a patch without an object");
    Json patched = *object;
    Patch patch;
    for (const Json& op : ops) {
      PatchOp p;
      p.op = op.value("op", "");
      p.path = op.value("path", "");
      p.from = op.value("from", "");
      if (op.contains("value")) p.value = op["value"];
      patch.push_back(std::move(p));
    }
    require(!apply_patch(patched, patch).has_value(), "the patch does not apply");
    Json again = in;
    again["request"]["object"] = patched;
    Decision d2;
    HttpResponse r2 = handler.review(webhook, {"POST", "/", content_type, again.dump()}, policy, d2);
    Json out2 = Json::parse(r2.body, nullptr, false);
    require(r2.status == 200 && out2.is_object(), "reinvocation failed");
    require(!out2["response"].contains("patch"), "mutating the mutated object yields a patch again");
  }
  return 0;
}
