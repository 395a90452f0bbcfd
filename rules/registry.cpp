#include "registry.h"

#include <algorithm>
#include <array>

namespace ray_admission {

// One line per rule, sorted by name. Each is defined in rules/checks/<name>.cpp.
namespace checks {
extern const RuleInfo ray_prestop;
}  // namespace checks

namespace {
constexpr std::array kRules = {
    &checks::ray_prestop,
};
}  // namespace

std::span<const RuleInfo* const> all_rules() { return kRules; }

const RuleInfo* find_rule(std::string_view name) {
  auto it = std::find_if(kRules.begin(), kRules.end(), [&](const RuleInfo* r) { return r->name == name; });
  return it == kRules.end() ? nullptr : *it;
}

}  // namespace ray_admission
