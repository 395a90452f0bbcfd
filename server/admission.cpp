#include "admission.h"

#include "json/fast_parse.h"
#include "json/write.h"

#include <algorithm>
#include <exception>
#include <map>
#include <stdexcept>
#include <unordered_map>

namespace ray_admission::server {

namespace {

constexpr std::string_view kV1 = "admission.k8s.io/v1";
constexpr std::string_view kV1beta1 = "admission.k8s.io/v1beta1";
constexpr std::string_view kFaultAnnotation = "ray-admission.io/test-fault";
constexpr std::size_t kMaxAuditValue = 1024;
// The denial message lists this many problems and counts the rest: an object with thousands of
// broken groups would otherwise get a message of megabytes, which the API server hands to the
// user, its audit log and events as it is.
constexpr std::size_t kMaxDenialsListed = 20;

const Json* member(const Json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

const Json* member(const Json* obj, std::string_view key) { return obj == nullptr ? nullptr : member(*obj, key); }

std::string string_member(const Json* obj, std::string_view key) {
  const Json* v = member(obj, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

// Text from the request that ends up in an error message or a log line: printable ASCII only,
// and short.
std::string printable(std::string_view s, std::size_t max = 128) {
  std::string out;
  for (char c : s.substr(0, max)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > max) out += "...";
  return out;
}

FastJsonParser make_parser(std::size_t max_depth) {
  FastJsonParser parser(max_depth);
  std::string error;
  parser.skip(skipped_pointers(), error);
  return parser;
}

// Finds where a body that is not JSON stops being JSON, without keeping any of its text.
class ErrorPosition : public nlohmann::json_sax<Json> {
 public:
  std::size_t position = 0;
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t pos, const std::string&, const nlohmann::detail::exception&) override {
    position = pos;
    return false;
  }
};

// Runs only for a body the fast parser refused: nlohmann's SAX pass finds the byte to point at.
std::string not_json_message(std::string_view body, const std::string& reason) {
  ErrorPosition sax;
  Json::sax_parse(body, &sax, nlohmann::detail::input_format_t::json, true, false);
  return "the body is not valid JSON (" + reason + ", at byte " + std::to_string(sax.position) + ")";
}

// The warnings of one answer, within the API server's limits.
class Warnings {
 public:
  void add(std::string_view text) {
    std::string w = clip_warning(text, kMaxWarningLength);
    if (w.empty()) return;
    // Keep room for the line that says how many were left out.
    if (omitted_ > 0 || total_ + w.size() > kMaxWarningsTotal - kReserve) {
      ++omitted_;
      return;
    }
    total_ += w.size();
    list_.push_back(std::move(w));
  }
  bool empty() const { return list_.empty(); }
  Json to_json() const {
    Json out = Json::array();
    for (const std::string& w : list_) out.push_back(w);
    if (omitted_ > 0) {
      out.push_back("[ray-admission] " + std::to_string(omitted_) +
                    " more warnings left out (the API server drops warnings beyond 4096 characters); "
                    "`ray-admission check` lists them all");
    }
    return out;
  }

 private:
  static constexpr std::size_t kReserve = 160;
  std::vector<std::string> list_;
  std::size_t total_ = 0;
  std::size_t omitted_ = 0;
};

std::string tagged(const Finding& f) { return "[" + f.rule + "] " + f.message; }

// Findings that the old object already had, for rules whose finding on the new object must then
// only warn.
std::vector<std::string> rules_denying(const Result& r) {
  std::vector<std::string> out;
  for (const Finding* f : r.denials()) out.push_back(f->rule);
  return out;
}

Json build_review(std::string_view api_version, Json response) {
  Json out = Json::object();
  out["apiVersion"] = api_version;
  out["kind"] = "AdmissionReview";
  out["response"] = std::move(response);
  return out;
}

Json allow(const std::string& uid) {
  Json r = Json::object();
  r["uid"] = uid;
  r["allowed"] = true;
  return r;
}

}  // namespace

std::string_view to_string(Webhook w) { return w == Webhook::Validate ? "validate" : "mutate"; }

Route route(std::string_view method, std::string_view path) {
  if (path == "/validate" || path == "/mutate") {
    if (method != "POST") return Route::MethodNotAllowed;
    return path == "/validate" ? Route::Validate : Route::Mutate;
  }
  if (path == "/healthz" || path == "/readyz" || path == "/metrics") {
    if (method != "GET" && method != "HEAD") return Route::MethodNotAllowed;
    if (path == "/healthz") return Route::Healthz;
    return path == "/readyz" ? Route::Readyz : Route::Metrics;
  }
  return Route::NotFound;
}

std::string_view status_reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

namespace {
// The `reason` of a Kubernetes Status (metav1.StatusReason) for an HTTP status.
std::string_view status_reason_word(int status) {
  switch (status) {
    case 400: return "BadRequest";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 408: return "Timeout";
    case 413: return "RequestEntityTooLarge";
    case 415: return "UnsupportedMediaType";
    case 503: return "ServiceUnavailable";
    default: return status >= 500 ? "InternalError" : "BadRequest";
  }
}
}  // namespace

std::string error_body(int status, std::string_view message) {
  Json j = Json::object();
  j["kind"] = "Status";
  j["apiVersion"] = "v1";
  j["status"] = "Failure";
  j["message"] = std::string(message);
  j["reason"] = status_reason_word(status);
  j["code"] = status;
  return to_json_text(j);
}

HttpResponse error_response(int status, std::string_view message) { return {status, error_body(status, message)}; }

std::string_view Decision::result() const {
  if (status >= 500 || internal_error) return "error";
  if (status != 200) return "invalid";
  if (!allowed) return "denied";
  return patch_ops > 0 ? "patched" : "allowed";
}

bool is_json_content_type(std::string_view ct) {
  std::string_view media = ct.substr(0, ct.find(';'));
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
  while (!media.empty() && (media.front() == ' ' || media.front() == '\t')) media.remove_prefix(1);
  constexpr std::string_view kJson = "application/json";
  if (media.size() != kJson.size()) return false;
  for (std::size_t i = 0; i < media.size(); ++i) {
    char c = media[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kJson[i]) return false;
  }
  return true;
}

std::string base64_encode(std::string_view data) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out((data.size() + 2) / 3 * 4, '=');
  char* o = out.data();
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<unsigned>(static_cast<unsigned char>(data[k])); };
  for (; i + 2 < data.size(); i += 3, o += 4) {
    unsigned v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    o[0] = kAlphabet[(v >> 18) & 63];
    o[1] = kAlphabet[(v >> 12) & 63];
    o[2] = kAlphabet[(v >> 6) & 63];
    o[3] = kAlphabet[v & 63];
  }
  if (i < data.size()) {  // one or two bytes left; the padding '=' is already in place
    unsigned v = byte(i) << 16;
    if (i + 1 < data.size()) v |= byte(i + 1) << 8;
    o[0] = kAlphabet[(v >> 18) & 63];
    o[1] = kAlphabet[(v >> 12) & 63];
    if (i + 1 < data.size()) o[2] = kAlphabet[(v >> 6) & 63];
  }
  return out;
}

std::string clip_warning(std::string_view s, std::size_t max) {
  std::string out;
  out.reserve(std::min(s.size(), max));
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? ' ' : c;
  }
  if (out.size() <= max) return out;
  std::size_t cut = max;
  // Do not split a UTF-8 sequence: back up to the start of the character at `cut`.
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
  out.resize(cut);
  return out;
}

namespace {

// Looks up members of one object by key. Two versions of an object usually list their keys in
// the same order, so the member at the caller's position is tried first; a hash index is built
// only when that fails, so comparing two large objects stays linear whatever their order.
class Members {
 public:
  explicit Members(const Json& obj) : obj_(obj.get_ref<const Json::object_t&>()) {}

  const Json* find(std::string_view key, std::size_t position) {
    if (position < obj_.size()) {
      const auto& [k, v] = *(obj_.begin() + static_cast<std::ptrdiff_t>(position));
      if (k == key) return &v;
    }
    if (obj_.size() <= 8) {
      for (const auto& [k, v] : obj_) {
        if (k == key) return &v;
      }
      return nullptr;
    }
    if (index_.empty()) {
      index_.reserve(obj_.size());
      for (const auto& [k, v] : obj_) index_.emplace(k, &v);
    }
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : it->second;
  }

 private:
  const Json::object_t& obj_;
  std::unordered_map<std::string_view, const Json*> index_;
};

}  // namespace

bool json_equal(const Json& a, const Json& b) {
  if (a.is_object() && b.is_object()) {
    if (a.size() != b.size()) return false;
    Members other(b);
    std::size_t i = 0;
    for (const auto& [key, value] : a.get_ref<const Json::object_t&>()) {
      const Json* o = other.find(key, i++);
      if (o == nullptr || !json_equal(value, *o)) return false;
    }
    return true;
  }
  if (a.is_array() && b.is_array()) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!json_equal(a[i], b[i])) return false;
    }
    return true;
  }
  return a == b;
}

bool only_metadata_changed(const Json& object, const Json& old) {
  if (!object.is_object() || !old.is_object()) return false;
  // Top level: everything but status and metadata must be the same.
  auto same_except = [](const Json& x, const Json& y, std::initializer_list<std::string_view> ignored) {
    auto skip = [&](std::string_view k) { return std::find(ignored.begin(), ignored.end(), k) != ignored.end(); };
    Members in_x(x), in_y(y);
    std::size_t i = 0;
    for (const auto& [key, value] : x.get_ref<const Json::object_t&>()) {
      const std::size_t position = i++;
      if (skip(key)) continue;
      const Json* o = in_y.find(key, position);
      if (o == nullptr || !json_equal(value, *o)) return false;
    }
    i = 0;
    for (const auto& [key, value] : y.get_ref<const Json::object_t&>()) {
      const std::size_t position = i++;
      if (!skip(key) && in_x.find(key, position) == nullptr) return false;
    }
    return true;
  };
  if (!same_except(object, old, {"status", "metadata"})) return false;
  static const Json kEmpty = Json::object();
  const Json* m1 = member(object, "metadata");
  const Json* m2 = member(old, "metadata");
  const Json& a = m1 != nullptr && m1->is_object() ? *m1 : kEmpty;
  const Json& b = m2 != nullptr && m2->is_object() ? *m2 : kEmpty;
  return same_except(a, b, {"finalizers", "labels", "annotations", "managedFields", "resourceVersion", "generation"});
}

const std::vector<std::string>& skipped_pointers() {
  static const std::vector<std::string> kSkipped = {"/request/object/metadata/managedFields",
                                                    "/request/oldObject/metadata/managedFields",
                                                    "/request/object/status", "/request/oldObject/status"};
  return kSkipped;
}

AdmissionHandler::AdmissionHandler(AdmissionOptions options, Evaluator evaluator)
    : options_(options), evaluator_(std::move(evaluator)) {
  if (!evaluator_) evaluator_ = [](const Json& o, const Policy& p, Mode m) { return evaluate(o, p, m); };
}

HttpResponse AdmissionHandler::review(Webhook webhook, const HttpRequest& req, const Policy& policy,
                                      Decision& d) const {
  d = Decision{};
  d.webhook = webhook;
  auto refuse = [&](int status, std::string message) {
    d.status = status;
    d.allowed = false;
    d.error = message;
    return error_response(status, message);
  };
  try {
    if (!is_json_content_type(req.content_type)) {
      return refuse(415, req.content_type.empty()
                             ? std::string("Content-Type must be application/json (none given)")
                             : "Content-Type must be application/json, not '" + printable(req.content_type) + "'");
    }
    if (req.body.size() > options_.max_body) {
      return refuse(413, "the body has " + std::to_string(req.body.size()) + " bytes, more than the limit of " +
                             std::to_string(options_.max_body));
    }
    if (req.body.empty()) return refuse(400, "the body is empty: expected an AdmissionReview");
    // simdjson's parse into the engine's model: several times faster than nlohmann's own parser on
    // an AdmissionReview (docs/benchmarks.md). One parser per worker thread, reused; it enforces
    // the depth limit without recursing.
    thread_local FastJsonParser parser = make_parser(options_.max_depth);
    Json doc;
    // Drops the document, without walking it, when the answer is built: nothing here changes it
    // or moves parts out of it (json/fast_parse.h).
    struct Discard {
      FastJsonParser& parser;
      Json& doc;
      ~Discard() { parser.discard(doc); }
    } discard_doc{parser, doc};
    std::string parse_error;
    bool too_deep = false;
    if (!parser.parse(req.body, doc, parse_error, &too_deep)) {
      if (too_deep) {
        return refuse(400, "the body nests JSON deeper than " + std::to_string(options_.max_depth) + " levels");
      }
      return refuse(400, not_json_message(req.body, parse_error));
    }
    if (!doc.is_object()) return refuse(400, "the body is not a JSON object: expected an AdmissionReview");
    const std::string api_version = string_member(&doc, "apiVersion");
    if (api_version != kV1 && api_version != kV1beta1) {
      return refuse(400, "apiVersion must be admission.k8s.io/v1 or admission.k8s.io/v1beta1, not '" +
                             printable(api_version) + "'");
    }
    d.api_version = api_version;
    const std::string kind = string_member(&doc, "kind");
    if (kind != "AdmissionReview") return refuse(400, "kind must be AdmissionReview, not '" + printable(kind) + "'");
    const Json* request = member(doc, "request");
    if (request == nullptr || !request->is_object()) return refuse(400, "the AdmissionReview has no request");
    const Json* uid = member(request, "uid");
    if (uid == nullptr || !uid->is_string() || uid->get_ref<const std::string&>().empty()) {
      return refuse(400, "request.uid is missing");
    }
    d.uid = uid->get<std::string>();
    d.kind = string_member(member(request, "kind"), "kind");
    d.namespace_ = string_member(request, "namespace");
    d.name = string_member(request, "name");
    d.operation = string_member(request, "operation");
    const Json* dry = member(request, "dryRun");
    d.dry_run = dry != nullptr && dry->is_boolean() && dry->get<bool>();
    const Json* object = member(request, "object");
    if (d.name.empty()) d.name = string_member(member(object, "metadata"), "name");

    const std::string& op = d.operation;
    if (op != "CREATE" && op != "UPDATE" && op != "DELETE" && op != "CONNECT") {
      return refuse(400, "request.operation must be CREATE, UPDATE, DELETE or CONNECT, not '" + printable(op) + "'");
    }
    if (op == "DELETE" || op == "CONNECT") {
      d.exemption = op == "DELETE" ? "delete" : "connect";
      return {200, to_json_text(build_review(api_version, allow(d.uid)))};
    }
    if (object == nullptr || !object->is_object()) return refuse(400, "request.object must be an object");

    const Json* old = op == "UPDATE" ? member(request, "oldObject") : nullptr;
    if (old != nullptr && !old->is_object()) old = nullptr;
    if (op == "UPDATE") {
      // Never stand in the way of a deletion: an object with finalizers stays Terminating until
      // its controller may update it (KubeRay issue 5256).
      const Json* ts = member(member(object, "metadata"), "deletionTimestamp");
      if (ts != nullptr && !ts->is_null()) {
        d.exemption = "deleting";
        return {200, to_json_text(build_review(api_version, allow(d.uid)))};
      }
      if (old != nullptr && only_metadata_changed(*object, *old)) {
        d.exemption = "metadata-only";
        return {200, to_json_text(build_review(api_version, allow(d.uid)))};
      }
    }

    try {
      if (options_.fault_injection) {
        const Json* fault = member(member(member(object, "metadata"), "annotations"), kFaultAnnotation);
        if (fault != nullptr && fault->is_string() && fault->get_ref<const std::string&>() == "throw") {
          throw std::runtime_error("fault injected by the " + std::string(kFaultAnnotation) + " annotation");
        }
      }
      const Mode mode = webhook == Webhook::Mutate ? Mode::Mutate : Mode::Validate;
      Result r = evaluator_(*object, policy, mode);

      // An update that leaves the spec alone does not become a denial because of what the old
      // object already broke: those rules only warn.
      std::vector<std::string> grandfathered;
      if (old != nullptr && !r.allowed) {
        const Json* spec = member(object, "spec");
        const Json* old_spec = member(old, "spec");
        bool same_spec = (spec == nullptr && old_spec == nullptr) ||
                         (spec != nullptr && old_spec != nullptr && json_equal(*spec, *old_spec));
        if (same_spec) {
          grandfathered = rules_denying(evaluator_(*old, policy, Mode::Validate));
          for (Finding& f : r.findings) {
            if (f.action == Action::Deny && !f.fix_applied &&
                std::find(grandfathered.begin(), grandfathered.end(), f.rule) != grandfathered.end()) {
              f.action = Action::Warn;
              f.message +=
                  " (the object already had this before the update, which leaves the spec unchanged: "
                  "not denied)";
            }
          }
          r.allowed = r.denials().empty();
        }
      }

      Json resp = allow(d.uid);
      resp["allowed"] = r.allowed;
      d.allowed = r.allowed;
      Warnings warnings;
      std::map<std::string, std::string> audit;
      const bool audit_profile = policy.profile == Profile::Audit;
      std::string denial;
      std::size_t denials = 0;
      for (const Finding& f : r.findings) {
        if (f.action == Action::Off && !f.fix_applied) continue;
        d.findings.emplace_back(f.rule, f.action);
        if (f.action == Action::Off) continue;  // a default the mutation added: silent
        if (f.fix_applied) {
          warnings.add("[" + f.rule + "] fixed by ray-admission: " + f.message);
        } else if (f.action == Action::Deny) {
          if (denials < kMaxDenialsListed) denial += (denials == 0 ? "" : "\n") + tagged(f);
          ++denials;
        } else {
          warnings.add(tagged(f));
        }
        if (audit_profile) {
          std::string& v = audit[f.rule];
          if (v.size() < kMaxAuditValue) v = clip_warning(v.empty() ? f.message : v + "; " + f.message, kMaxAuditValue);
        }
      }
      if (!r.allowed) {
        Json status = Json::object();
        status["status"] = "Failure";
        status["code"] = 403;
        status["reason"] = "Forbidden";
        std::string message = denials == 1 ? denial : std::to_string(denials) + " problems:\n" + denial;
        if (denials > kMaxDenialsListed) {
          message += "\n... and " + std::to_string(denials - kMaxDenialsListed) +
                     " more (`ray-admission check` on the object lists them all)";
        }
        status["message"] = std::move(message);
        resp["status"] = std::move(status);
      }
      if (webhook == Webhook::Mutate && r.allowed && !r.patch.empty()) {
        d.patch_ops = r.patch.size();
        resp["patchType"] = "JSONPatch";
        resp["patch"] = base64_encode(patch_text(r.patch));
      }
      if (!warnings.empty()) resp["warnings"] = warnings.to_json();
      if (!audit.empty()) {
        // The API server stores each key as "<webhook name>/<key>" and accepts exactly one '/', so
        // the key is the bare rule name: `validate.ray-admission.io/ray-prestop` in the audit log.
        Json a = Json::object();
        for (auto& [rule, text] : audit) a[rule] = text;
        resp["auditAnnotations"] = std::move(a);
      }
      return {200, to_json_text(build_review(api_version, std::move(resp)))};
    } catch (const std::exception& e) {
      d.internal_error = true;
      d.error = std::string("internal error: ") + e.what();
    } catch (...) {
      d.internal_error = true;
      d.error = "internal error";
    }
    d.findings.clear();
    d.patch_ops = 0;
    if (webhook == Webhook::Mutate && options_.mutate_fail_open) {
      Json resp = allow(d.uid);
      resp["warnings"] =
          Json::array({"[ray-admission] internal error: the object was admitted without its "
                       "mutations; the validating webhook still checks it"});
      d.allowed = true;
      return {200, to_json_text(build_review(api_version, std::move(resp)))};
    }
    d.status = 500;
    d.allowed = false;
    return error_response(500, d.error);
  } catch (const std::exception& e) {
    return refuse(500, std::string("internal error: ") + e.what());
  } catch (...) {
    return refuse(500, "internal error");
  }
}

}  // namespace ray_admission::server
