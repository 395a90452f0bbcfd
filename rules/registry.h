// The list of every rule the engine runs.
#pragma once

#include "rule.h"

#include <span>
#include <string_view>

namespace ray_admission {

// Every rule, sorted by name. The list is a constant table: no static registration.
std::span<const RuleInfo* const> all_rules();
const RuleInfo* find_rule(std::string_view name);

}  // namespace ray_admission
