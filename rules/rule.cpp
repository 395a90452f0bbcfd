#include "rule.h"

namespace ray_admission {

std::string_view to_string(Mutation m) {
  switch (m) {
    case Mutation::None: return "none";
    case Mutation::OnByDefault: return "on";
    case Mutation::OffByDefault: return "off (opt-in)";
  }
  return "";
}

std::string_view to_string(Origin o) {
  switch (o) {
    case Origin::RayDocs: return "Ray documentation (checked by nothing but ray-admission)";
    case Origin::KubeRayWebhook: return "KubeRay's webhook";
    case Origin::KubeRayController: return "KubeRay's controller only (at reconcile time)";
    case Origin::RayAdmission: return "nothing but ray-admission";
  }
  return "";
}

namespace {
Finding make(const RuleInfo& rule, Action action, std::string pointer, std::string message, Patch fix) {
  Finding f;
  f.rule = std::string(rule.name);
  f.action = action;
  f.pointer = std::move(pointer);
  f.message = std::move(message);
  f.fix = std::move(fix);
  return f;
}
}  // namespace

void Reporter::report(std::string pointer, std::string message, Patch fix) {
  out_.push_back(make(rule_, policy_.action_for(rule_), std::move(pointer), std::move(message), std::move(fix)));
}

void Reporter::advise(std::string pointer, std::string message) {
  Action a = policy_.action_for(rule_);
  if (a == Action::Deny && policy_.profile != Profile::Strict && policy_.actions.count(rule_.name) == 0) {
    a = Action::Warn;
  }
  out_.push_back(make(rule_, a, std::move(pointer), std::move(message), {}));
}

void Reporter::suggest(std::string pointer, std::string message, Patch fix) {
  if (!fixes_) return;
  out_.push_back(make(rule_, Action::Off, std::move(pointer), std::move(message), std::move(fix)));
}

namespace {
// A patch of one op, moved in (a braced list would copy the op's value).
Patch single(PatchOp op) {
  Patch p;
  p.push_back(std::move(op));
  return p;
}
}  // namespace

void Reporter::report(std::string pointer, std::string message, PatchOp fix) {
  report(std::move(pointer), std::move(message), single(std::move(fix)));
}

void Reporter::suggest(std::string pointer, std::string message, PatchOp fix) {
  if (!fixes_) return;
  suggest(std::move(pointer), std::move(message), single(std::move(fix)));
}

PatchOp add_op(std::string path, Json value) { return PatchOp{"add", std::move(path), "", std::move(value)}; }
PatchOp replace_op(std::string path, Json value) { return PatchOp{"replace", std::move(path), "", std::move(value)}; }
PatchOp move_op(std::string from, std::string path) { return PatchOp{"move", std::move(path), std::move(from), {}}; }

}  // namespace ray_admission
