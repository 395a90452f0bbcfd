// What a rule is: its metadata and documentation, and a check function over a Workload.
#pragma once

#include "policy.h"
#include "types.h"
#include "workload.h"

#include <string>
#include <string_view>
#include <vector>

namespace ray_admission {

enum class Mutation {
  None,          // the rule only reports
  OnByDefault,   // a safe fix, applied by /mutate and `check --fix` unless the policy turns it off
  OffByDefault,  // an opt-in fix (it changes what the user wrote): the policy must turn it on
};

// Who else checks this: where the rule comes from.
enum class Origin {
  RayDocs,            // Ray's documentation; no other tool checks it
  KubeRayWebhook,     // KubeRay's optional webhook (ray-operator/pkg/webhooks/v1)
  KubeRayController,  // KubeRay's operator, only at reconcile time (utils/validation.go)
  RayAdmission,       // this product's own
};

std::string_view to_string(Mutation m);
std::string_view to_string(Origin o);

class Reporter;

struct RuleInfo {
  std::string_view name;  // kebab-case; the spine of config, metrics, docs and tests
  Action default_action;
  Mutation mutation;
  Origin origin;
  std::string_view summary;       // one sentence: what it checks
  std::string_view why;           // the reason, from the Ray or KubeRay docs
  std::string_view example;       // a YAML fragment that trips it
  std::string_view fix;           // how to fix it, with the fixed fragment
  std::string_view mutation_doc;  // what the mutation does; "" when there is none
  void (*check)(const Workload&, Reporter&);
};

// What a rule hands its findings to. The engine owns it; a rule only calls report/suggest.
class Reporter {
 public:
  // `fixes`: whether the engine will apply this rule's fixes (false when validating, or when the
  // policy turns the rule's mutation off).
  Reporter(const RuleInfo& rule, const Policy& policy, std::vector<Finding>& out, bool fixes = true)
      : rule_(rule), policy_(policy), out_(out), fixes_(fixes) {}

  // Something is wrong. It takes the rule's action under the policy. `fix` is the rule's
  // mutation for it, if it has one: ops whose "add" creates missing parents as needed.
  void report(std::string pointer, std::string message, Patch fix = {});
  void report(std::string pointer, std::string message, PatchOp fix);  // a fix of one op
  // Something less serious that the same rule found (KubeRay clamps it, or a nightly image):
  // at most a warning, unless the strict profile or the policy makes the rule deny.
  void advise(std::string pointer, std::string message);
  // Nothing is wrong, but the documented default is missing: only the mutation acts. Ignored
  // when fixes are not wanted.
  void suggest(std::string pointer, std::string message, Patch fix);
  void suggest(std::string pointer, std::string message, PatchOp fix);

  // False when nothing will apply the fixes: a rule may then skip building them (what suggest()
  // would get is dropped anyway; report() keeps its message).
  bool fixes_wanted() const { return fixes_; }

  const Policy& policy() const { return policy_; }

 private:
  const RuleInfo& rule_;
  const Policy& policy_;
  std::vector<Finding>& out_;
  bool fixes_;
};

// Helpers for building fixes.
PatchOp add_op(std::string path, Json value);
PatchOp replace_op(std::string path, Json value);
PatchOp move_op(std::string from, std::string path);

}  // namespace ray_admission
