// The AdmissionReview protocol, with no sockets: a request's method, path, content type and body
// in, a status and a JSON body out. Everything the API server's side of the contract needs
// (RULES.md section 5) lives here, so that it can be unit-tested and fuzzed on its own; the HTTPS
// layer (https_server.h) only moves bytes.
#pragma once

#include "rules/engine.h"
#include "rules/policy.h"
#include "rules/types.h"

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ray_admission::server {

enum class Webhook { Validate, Mutate };
std::string_view to_string(Webhook w);

// Where a request goes, from its method and path alone.
enum class Route { Validate, Mutate, Healthz, Readyz, Metrics, NotFound, MethodNotAllowed };
Route route(std::string_view method, std::string_view path);

struct HttpRequest {
  std::string_view method;        // "POST"
  std::string_view path;          // "/validate", without the query string
  std::string_view content_type;  // the Content-Type header; "" when there is none
  std::string_view body;
};

struct HttpResponse {
  int status = 200;
  std::string body;  // always JSON (application/json)
};

// The JSON error body every non-200 answer carries: a Kubernetes `Status` object.
std::string error_body(int status, std::string_view message);
HttpResponse error_response(int status, std::string_view message);
std::string_view status_reason(int status);  // 400 -> "Bad Request"

// What one answer was, for the decision log and the metrics. It holds names and counts, never the
// object's contents.
struct Decision {
  Webhook webhook = Webhook::Validate;
  int status = 200;         // the HTTP status; 200 when an AdmissionReview was answered
  std::string error;        // why the request was refused or failed (status != 200, or a fail-open allow)
  std::string api_version;  // admission.k8s.io/v1 or v1beta1
  std::string uid, kind, namespace_, name, operation;
  bool dry_run = false;
  bool allowed = true;
  bool internal_error = false;  // the engine failed; the answer is a 500 or a fail-open allow
  std::string exemption;        // why the object was admitted without a review ("delete", "deleting", ...)
  std::vector<std::pair<std::string, Action>> findings;  // rule and action of every finding reported
  std::size_t patch_ops = 0;

  // "allowed", "patched", "denied", "invalid" (4xx) or "error" (internal error): the metric label.
  std::string_view result() const;
};

struct AdmissionOptions {
  std::size_t max_body = 7u << 20;  // bytes; a larger body is refused with 413
  std::size_t max_depth = 128;      // JSON nesting; deeper is refused with 400
  bool mutate_fail_open = true;     // an internal error in /mutate allows with a warning (else 500)
  // Tests only: an object with the annotation `ray-admission.io/test-fault: throw` makes the
  // engine throw, to exercise the internal-error paths over the wire.
  bool fault_injection = false;
};

using Evaluator = std::function<Result(const Json&, const Policy&, Mode)>;

// Answers POST /validate and /mutate. Stateless apart from its options: safe to share between
// threads; the policy is passed per call so that a reload never races a request.
class AdmissionHandler {
 public:
  explicit AdmissionHandler(AdmissionOptions options, Evaluator evaluator = nullptr);

  HttpResponse review(Webhook webhook, const HttpRequest& request, const Policy& policy, Decision& decision) const;

  const AdmissionOptions& options() const { return options_; }

 private:
  AdmissionOptions options_;
  Evaluator evaluator_;
};

// The parts of a review the server's parse leaves out of the DOM, because no rule and no protocol
// check reads them: the server-side-apply bookkeeping (managedFields, often as large as the spec)
// and the status. only_metadata_changed ignores both. A rule that ever needs one of them must take
// it off this list (the CLI's YAML path keeps everything, so its tests would not notice).
const std::vector<std::string>& skipped_pointers();

// Limits the API server applies to warnings (RULES.md section 5).
inline constexpr std::size_t kMaxWarningLength = 256;
inline constexpr std::size_t kMaxWarningsTotal = 4096;

// Helpers, exposed for the tests.
bool is_json_content_type(std::string_view content_type);
std::string base64_encode(std::string_view data);
// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence, and replaces control
// characters (which an HTTP Warning header cannot carry) with spaces.
std::string clip_warning(std::string_view s, std::size_t max);
// True when `object` and `old` differ only in status, metadata.finalizers, metadata.labels,
// metadata.annotations and the bookkeeping fields the API server maintains.
bool only_metadata_changed(const Json& object, const Json& old);
// Deep equality that ignores the order of object members.
bool json_equal(const Json& a, const Json& b);

}  // namespace ray_admission::server
