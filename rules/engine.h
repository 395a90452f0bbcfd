// The engine: one object and a policy in, findings and a patch out. Pure: no I/O, no globals.
#pragma once

#include "policy.h"
#include "types.h"

#include <string>
#include <string_view>
#include <vector>

namespace ray_admission {

enum class Mode {
  Validate,  // report only: no patch
  Mutate,    // apply every enabled mutation; a finding its mutation fixed no longer denies
};

struct Result {
  bool recognised = false;  // a Ray workload the engine looked at; false: passed through untouched
  bool allowed = true;      // no deny finding remains
  std::vector<Finding> findings;  // violations (deny, warn) and, in Mutate mode, applied defaults
  Patch patch;              // Mutate mode only; empty when nothing would change

  std::vector<const Finding*> denials() const;
  std::vector<const Finding*> warnings() const;
};

// The annotation by which an object opts out of named rules, and the names it lists (split at
// commas, trimmed of blanks, empty items dropped), in the order given.
inline constexpr std::string_view kSkipAnnotation = "ray-admission.io/skip";
std::vector<std::string> skip_annotation_names(const Json& object);

// Runs every rule over `object`. The object is never copied, except when a structural mutation
// (one that moves a container) is applied and the rules must look again at the result.
Result evaluate(const Json& object, const Policy& policy, Mode mode);

}  // namespace ray_admission
