// Loading a policy file (YAML) with errors that name the line.
#pragma once

#include "rules/policy.h"

#include <optional>
#include <string>
#include <string_view>

namespace ray_admission {

// Parses the text of a policy file. On error returns nullopt and sets `error` to
// "LINE:COL: message" (prefix it with the file name).
std::optional<Policy> load_policy_yaml(std::string_view text, std::string& error);

// Reads and parses a policy file. On error `error` is "FILE:LINE:COL: message" or
// "FILE: cannot read: reason".
std::optional<Policy> load_policy_file(const std::string& path, std::string& error);

}  // namespace ray_admission
