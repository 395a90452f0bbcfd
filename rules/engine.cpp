#include "engine.h"

#include "json_pointer.h"
#include "patch.h"
#include "registry.h"
#include "workload.h"

#include <algorithm>
#include <set>

namespace ray_admission {

std::vector<std::string> skip_annotation_names(const Json& object) {
  std::vector<std::string> out;
  const Json* v = member(member(member(object, "metadata"), "annotations"), kSkipAnnotation);
  if (v == nullptr || !v->is_string()) return out;
  const std::string& s = v->get_ref<const std::string&>();
  std::size_t pos = 0;
  while (pos <= s.size()) {
    std::size_t comma = s.find(',', pos);
    if (comma == std::string::npos) comma = s.size();
    std::string name = s.substr(pos, comma - pos);
    auto b = name.find_first_not_of(" \t");
    auto e = name.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(name.substr(b, e - b + 1));
    pos = comma + 1;
  }
  return out;
}

std::vector<const Finding*> Result::denials() const {
  std::vector<const Finding*> out;
  for (const Finding& f : findings) {
    if (f.action == Action::Deny && !f.fix_applied) out.push_back(&f);
  }
  return out;
}

std::vector<const Finding*> Result::warnings() const {
  std::vector<const Finding*> out;
  for (const Finding& f : findings) {
    if (f.action == Action::Warn) out.push_back(&f);
  }
  return out;
}

namespace {

// Rule names an object opts out of with the `ray-admission.io/skip` annotation.
std::set<std::string, std::less<>> skipped_rules(const Json& object) {
  std::vector<std::string> names = skip_annotation_names(object);
  return {names.begin(), names.end()};
}

bool has_move(const Patch& p) {
  return std::any_of(p.begin(), p.end(), [](const PatchOp& op) { return op.op == "move"; });
}

// One pass of every rule. Structural fixes (moves) are not put into the patch: they are returned
// in `moves`, because they change the pointers every other fix was built against.
Result run_rules(const Json& object, const Workload& w, const Policy& policy, Mode mode, Patch& moves) {
  Result r;
  r.recognised = true;
  auto skipped = policy.honor_skip_annotation ? skipped_rules(object) : std::set<std::string, std::less<>>{};
  PatchBuilder builder(object);
  for (const RuleInfo* rule : all_rules()) {
    if (skipped.count(rule->name) != 0) continue;
    const bool mutation_on = mode == Mode::Mutate && policy.mutation_enabled(*rule);
    if (policy.action_for(*rule) == Action::Off && !mutation_on) continue;
    std::size_t first = r.findings.size();
    Reporter reporter(*rule, policy, r.findings, mutation_on);
    rule->check(w, reporter);
    for (std::size_t i = first; i < r.findings.size(); ++i) {
      Finding& f = r.findings[i];
      if (!mutation_on || f.fix.empty()) continue;
      if (has_move(f.fix)) {
        moves.insert(moves.end(), f.fix.begin(), f.fix.end());
        f.fix_applied = true;
        continue;
      }
      bool ok = true;
      // The fix's values are moved into the patch: past this point only its ops are looked at
      // (has_move, and whether there was a fix at all).
      for (PatchOp& op : f.fix) ok = builder.append(std::move(op)) && ok;
      f.fix_applied = ok;  // false only if a rule built a fix that does not fit this object
    }
  }
  // Off-action findings were kept only for their fixes; fix-only findings that were not applied
  // carry nothing for the user.
  std::erase_if(r.findings, [](const Finding& f) { return f.action == Action::Off && !f.fix_applied; });
  r.patch = builder.take();
  r.allowed = r.denials().empty();
  return r;
}

}  // namespace

Result evaluate(const Json& object, const Policy& policy, Mode mode) {
  auto w = adapt(object);
  if (!w) return Result{};
  Patch moves;
  Result r = run_rules(object, *w, policy, mode, moves);
  if (moves.empty()) return r;
  // Containers moved: look again at the object as it will be, and build the rest of the patch
  // against that. Rare (the move is an opt-in fix), so the copy is paid only here.
  Json moved = object;
  if (apply_patch(moved, moves)) return r;  // (not expected) keep the first pass without moves
  auto w2 = adapt(moved);
  Patch more_moves;
  Result again = run_rules(moved, *w2, policy, mode, more_moves);
  std::vector<Finding> findings;
  for (Finding& f : r.findings) {
    if (f.fix_applied && has_move(f.fix)) findings.push_back(std::move(f));
  }
  for (Finding& f : again.findings) findings.push_back(std::move(f));
  again.findings = std::move(findings);
  again.patch.insert(again.patch.begin(), moves.begin(), moves.end());
  again.allowed = again.denials().empty();
  return again;
}

}  // namespace ray_admission
