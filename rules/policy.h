// The policy: which rules deny, warn or are off, which mutations run, and their options.
#pragma once

#include "types.h"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ray_admission {

struct RuleInfo;

enum class Profile {
  Default,  // each rule's documented default action
  Strict,   // every warn becomes deny
  Audit,    // nothing denies: every finding is a warning (and an audit annotation)
};

std::string_view to_string(Profile p);
std::optional<Profile> parse_profile(std::string_view s);

struct Policy {
  Profile profile = Profile::Default;
  std::map<std::string, Action, std::less<>> actions;  // per-rule overrides
  std::map<std::string, bool, std::less<>> mutations;  // per-rule overrides
  std::vector<std::string> prestop_command = {"/bin/sh", "-c", "ray stop"};
  bool honor_skip_annotation = true;  // false: `ray-admission.io/skip` is ignored

  // The action a rule's findings take under this policy. An explicit per-rule action wins over
  // the profile, except that the audit profile never denies.
  Action action_for(const RuleInfo& rule) const;
  bool mutation_enabled(const RuleInfo& rule) const;
};

struct PolicyError {
  std::string pointer;  // where in the policy document, as a JSON Pointer
  std::string message;
};

// Reads a policy from its JSON form (the CLI and the server load the YAML file into JSON).
// Accepted keys: profile, rules (name -> deny|warn|off), mutations (name -> on|off|true|false),
// preStopCommand (list of strings), honorSkipAnnotation (bool). Anything else, and any unknown
// rule name, is an error.
std::optional<Policy> policy_from_json(const Json& doc, PolicyError& error);

}  // namespace ray_admission
