// rules/policy and yaml/policy_yaml: profiles, per-rule overrides, and errors that name the place.
#include "rules/policy.h"

#include "rules/registry.h"
#include "rules/rule.h"
#include "yaml/policy_yaml.h"

#include <doctest/doctest.h>

#include <string>

using namespace ray_admission;

namespace {

void no_check(const Workload&, Reporter&) {}

RuleInfo fake(std::string_view name, Action a, Mutation m) {
  return RuleInfo{name, a, m, Origin::RayAdmission, "s", "w", "e", "f", m == Mutation::None ? "" : "m", no_check};
}

const RuleInfo kDeny = fake("fake-deny", Action::Deny, Mutation::None);
const RuleInfo kWarn = fake("fake-warn", Action::Warn, Mutation::OffByDefault);
const RuleInfo kOff = fake("fake-off", Action::Off, Mutation::OnByDefault);

Policy parse_ok(const std::string& yaml) {
  std::string err;
  auto p = load_policy_yaml(yaml, err);
  REQUIRE_MESSAGE(p.has_value(), "policy does not load: " << err << "\n" << yaml);
  return *p;
}

std::string parse_error(const std::string& yaml) {
  std::string err;
  auto p = load_policy_yaml(yaml, err);
  CHECK_MESSAGE(!p.has_value(), "policy should not load:\n" << yaml);
  return err;
}

// A registered rule with (or without) a mutation; every build has ray-prestop, which mutates.
const RuleInfo* rule_without_mutation() {
  for (const RuleInfo* r : all_rules()) {
    if (r->mutation == Mutation::None) return r;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("profiles") {
  Policy p;
  CHECK(p.profile == Profile::Default);
  CHECK(p.action_for(kDeny) == Action::Deny);
  CHECK(p.action_for(kWarn) == Action::Warn);
  CHECK(p.action_for(kOff) == Action::Off);

  p.profile = Profile::Strict;  // every warn denies; off stays off
  CHECK(p.action_for(kDeny) == Action::Deny);
  CHECK(p.action_for(kWarn) == Action::Deny);
  CHECK(p.action_for(kOff) == Action::Off);

  p.profile = Profile::Audit;  // nothing denies
  CHECK(p.action_for(kDeny) == Action::Warn);
  CHECK(p.action_for(kWarn) == Action::Warn);
  CHECK(p.action_for(kOff) == Action::Off);

  CHECK(parse_profile("strict") == Profile::Strict);
  CHECK(parse_profile("audit") == Profile::Audit);
  CHECK(parse_profile("default") == Profile::Default);
  CHECK(!parse_profile("Strict").has_value());
  CHECK(!parse_profile("").has_value());
  CHECK(to_string(Profile::Audit) == "audit");
}

TEST_CASE("per-rule overrides win over the profile, except that audit never denies") {
  Policy p;
  p.actions["fake-warn"] = Action::Deny;
  p.actions["fake-deny"] = Action::Off;
  CHECK(p.action_for(kWarn) == Action::Deny);
  CHECK(p.action_for(kDeny) == Action::Off);
  p.profile = Profile::Strict;
  p.actions["fake-off"] = Action::Warn;
  CHECK(p.action_for(kOff) == Action::Warn);  // an explicit warn stays a warn under strict
  p.profile = Profile::Audit;
  CHECK(p.action_for(kWarn) == Action::Warn);  // explicit deny, but audit
  CHECK(p.action_for(kDeny) == Action::Off);
}

TEST_CASE("mutations: defaults and overrides") {
  Policy p;
  CHECK(!p.mutation_enabled(kDeny));  // has none
  CHECK(!p.mutation_enabled(kWarn));  // opt-in
  CHECK(p.mutation_enabled(kOff));    // on by default
  p.mutations["fake-warn"] = true;
  p.mutations["fake-off"] = false;
  p.mutations["fake-deny"] = true;
  CHECK(p.mutation_enabled(kWarn));
  CHECK(!p.mutation_enabled(kOff));
  CHECK(!p.mutation_enabled(kDeny));  // still none to run
}

TEST_CASE("a policy file: every key") {
  Policy p = parse_ok(
      "profile: strict\n"
      "rules:\n"
      "  ray-prestop: deny\n"
      "mutations:\n"
      "  ray-prestop: off\n"
      "preStopCommand: [ray, stop, --force]\n"
      "honorSkipAnnotation: false\n");
  CHECK(p.profile == Profile::Strict);
  CHECK(p.actions.at("ray-prestop") == Action::Deny);
  CHECK(p.mutations.at("ray-prestop") == false);
  CHECK(p.prestop_command == std::vector<std::string>{"ray", "stop", "--force"});
  CHECK(!p.honor_skip_annotation);

  Policy defaults = parse_ok("");
  CHECK(defaults.profile == Profile::Default);
  CHECK(defaults.actions.empty());
  CHECK(defaults.prestop_command == std::vector<std::string>{"/bin/sh", "-c", "ray stop"});
  CHECK(defaults.honor_skip_annotation);
  CHECK(parse_ok("# nothing but a comment\n").actions.empty());
}

TEST_CASE("a policy file: the words YAML turns into booleans") {
  // `off` is a YAML boolean (as kubectl reads YAML); as a rule's action it still means off.
  CHECK(parse_ok("rules:\n  ray-prestop: off\n").actions.at("ray-prestop") == Action::Off);
  CHECK(parse_ok("rules:\n  ray-prestop: \"off\"\n").actions.at("ray-prestop") == Action::Off);
  CHECK(parse_ok("mutations:\n  ray-prestop: on\n").mutations.at("ray-prestop") == true);
  CHECK(parse_ok("mutations:\n  ray-prestop: \"off\"\n").mutations.at("ray-prestop") == false);
  CHECK(parse_ok("mutations:\n  ray-prestop: true\n").mutations.at("ray-prestop") == true);
  CHECK(parse_error("rules:\n  ray-prestop: on\n").rfind("2:", 0) == 0);  // "on" is not an action
}

TEST_CASE("a policy file: unknown names and bad values are errors at their line") {
  CHECK(parse_error("profile: strict\nrules:\n  no-such-rule: deny\n") ==
        "3:3: unknown rule 'no-such-rule' (`ray-admission rules` lists them)");
  CHECK(parse_error("mutations:\n  ray-prestop: on\n  nope: off\n").rfind("3:3: unknown rule 'nope'", 0) == 0);
  CHECK(parse_error("profile: paranoid\n").rfind("1:1: profile must be", 0) == 0);
  CHECK(parse_error("rules:\n  ray-prestop: block\n").rfind("2:3: the action of ray-prestop", 0) == 0);
  CHECK(parse_error("mutations:\n  ray-prestop: maybe\n").rfind("2:3: the mutation of ray-prestop", 0) == 0);
  CHECK(parse_error("preStopCommand: []\n").rfind("1:1: preStopCommand", 0) == 0);
  CHECK(parse_error("preStopCommand: [ray, 1]\n").rfind("1:1: preStopCommand", 0) == 0);
  CHECK(parse_error("preStopCommand: ray stop\n").rfind("1:1: preStopCommand", 0) == 0);
  CHECK(parse_error("honorSkipAnnotation: \"no\"\n").rfind("1:1: honorSkipAnnotation", 0) == 0);
  CHECK(parse_error("profile: default\nrulez: {}\n").rfind("2:1: unknown key 'rulez'", 0) == 0);
  CHECK(parse_error("rules: [ray-prestop]\n").rfind("1:1: rules must", 0) == 0);
  CHECK(parse_error("- a list\n").rfind("1:1: a policy is a mapping", 0) == 0);
  CHECK(parse_error("profile: strict\n---\nprofile: audit\n").rfind("3:1: a policy file holds one", 0) == 0);
  std::string yaml_err = parse_error("rules:\n  ray-prestop: [deny\n");
  CHECK(yaml_err.rfind("3:", 0) == 0);  // the YAML error, with its line
  if (const RuleInfo* r = rule_without_mutation()) {
    CHECK(parse_error("mutations:\n  " + std::string(r->name) + ": on\n").find("has no mutation") != std::string::npos);
  }
}

TEST_CASE("policy_from_json names the JSON pointer of the problem") {
  PolicyError e;
  CHECK(!policy_from_json(Json::parse(R"({"rules": {"ray-prestop": "deny", "x~y/z": "warn"}})"), e).has_value());
  CHECK(e.pointer == "/rules/x~0y~1z");
  CHECK(e.message.find("unknown rule 'x~y/z'") != std::string::npos);
  CHECK(policy_from_json(Json(), e).has_value());
  CHECK(!policy_from_json(Json::array(), e).has_value());
  CHECK(e.pointer == "");
}

TEST_CASE("load_policy_file: the file name prefixes every error") {
  std::string err;
  CHECK(!load_policy_file("/nonexistent/policy.yaml", err).has_value());
  CHECK(err.rfind("/nonexistent/policy.yaml: cannot read: ", 0) == 0);
}
