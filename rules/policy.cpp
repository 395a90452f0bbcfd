#include "policy.h"

#include "json_pointer.h"
#include "registry.h"

namespace ray_admission {

std::string_view to_string(Profile p) {
  switch (p) {
    case Profile::Default: return "default";
    case Profile::Strict: return "strict";
    case Profile::Audit: return "audit";
  }
  return "";
}

std::optional<Profile> parse_profile(std::string_view s) {
  if (s == "default") return Profile::Default;
  if (s == "strict") return Profile::Strict;
  if (s == "audit") return Profile::Audit;
  return std::nullopt;
}

Action Policy::action_for(const RuleInfo& rule) const {
  Action a = rule.default_action;
  if (auto it = actions.find(rule.name); it != actions.end()) {
    a = it->second;
  } else if (profile == Profile::Strict && a == Action::Warn) {
    a = Action::Deny;
  }
  if (profile == Profile::Audit && a == Action::Deny) a = Action::Warn;
  return a;
}

bool Policy::mutation_enabled(const RuleInfo& rule) const {
  if (rule.mutation == Mutation::None) return false;
  if (auto it = mutations.find(rule.name); it != mutations.end()) return it->second;
  return rule.mutation == Mutation::OnByDefault;
}

namespace {

bool fail(PolicyError& e, std::string ptr, std::string msg) {
  e.pointer = std::move(ptr);
  e.message = std::move(msg);
  return false;
}

bool check_rule_name(const std::string& name, const std::string& ptr, PolicyError& e) {
  if (find_rule(name) != nullptr) return true;
  return fail(e, ptr, "unknown rule '" + name + "' (`ray-admission rules` lists them)");
}

bool read_bool_word(const Json& v, bool& out) {
  if (v.is_boolean()) {
    out = v.get<bool>();
    return true;
  }
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s == "on" || s == "true") {
      out = true;
      return true;
    }
    if (s == "off" || s == "false") {
      out = false;
      return true;
    }
  }
  return false;
}

bool read(const Json& doc, Policy& p, PolicyError& e) {
  if (doc.is_null()) return true;  // an empty file: the defaults
  if (!doc.is_object()) return fail(e, "", "a policy is a mapping with the keys profile, rules, mutations");
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    const std::string& key = it.key();
    const Json& v = it.value();
    std::string ptr = pointer::child("", key);
    if (key == "profile") {
      auto prof = v.is_string() ? parse_profile(v.get_ref<const std::string&>()) : std::nullopt;
      if (!prof) return fail(e, ptr, "profile must be one of default, strict, audit");
      p.profile = *prof;
    } else if (key == "rules") {
      if (!v.is_object()) return fail(e, ptr, "rules must map rule names to deny, warn or off");
      for (auto r = v.begin(); r != v.end(); ++r) {
        std::string rptr = pointer::child(ptr, r.key());
        if (!check_rule_name(r.key(), rptr, e)) return false;
        // `off` unquoted is a YAML boolean (as Kubernetes reads YAML): false means off too.
        std::optional<Action> a;
        if (r.value().is_string()) {
          a = parse_action(r.value().get_ref<const std::string&>());
        } else if (r.value().is_boolean() && !r.value().get<bool>()) {
          a = Action::Off;
        }
        if (!a) return fail(e, rptr, "the action of " + r.key() + " must be deny, warn or off");
        p.actions[r.key()] = *a;
      }
    } else if (key == "mutations") {
      if (!v.is_object()) return fail(e, ptr, "mutations must map rule names to on or off");
      for (auto r = v.begin(); r != v.end(); ++r) {
        std::string rptr = pointer::child(ptr, r.key());
        if (!check_rule_name(r.key(), rptr, e)) return false;
        if (find_rule(r.key())->mutation == Mutation::None) {
          return fail(e, rptr, "rule " + r.key() + " has no mutation to turn on or off");
        }
        bool on = false;
        if (!read_bool_word(r.value(), on)) return fail(e, rptr, "the mutation of " + r.key() + " must be on or off");
        p.mutations[r.key()] = on;
      }
    } else if (key == "preStopCommand") {
      if (!v.is_array() || v.empty()) return fail(e, ptr, "preStopCommand must be a non-empty list of strings");
      std::vector<std::string> cmd;
      for (const Json& w : v) {
        if (!w.is_string()) return fail(e, ptr, "preStopCommand must be a non-empty list of strings");
        cmd.push_back(w.get<std::string>());
      }
      p.prestop_command = std::move(cmd);
    } else if (key == "honorSkipAnnotation") {
      if (!v.is_boolean()) return fail(e, ptr, "honorSkipAnnotation must be true or false");
      p.honor_skip_annotation = v.get<bool>();
    } else {
      return fail(
          e, ptr,
          "unknown key '" + key + "' (expected profile, rules, mutations, preStopCommand, honorSkipAnnotation)");
    }
  }
  return true;
}

}  // namespace

std::optional<Policy> policy_from_json(const Json& doc, PolicyError& error) {
  Policy p;
  if (!read(doc, p, error)) return std::nullopt;
  return p;
}

}  // namespace ray_admission
