// Runs the case files in test/rules/<rule>.yaml: one file per rule, each case an object with the
// findings that rule must report on it (and, optionally, ops its patch must hold). Also checks,
// for every case, the mutation contract of RULES.md section 4: the patch applies, a second pass
// yields no patch, and the patched object is denied by no rule that passed the original.
#include "cli/commands.h"
#include "rules/engine.h"
#include "rules/patch.h"
#include "rules/registry.h"
#include "yaml/yaml_json.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace fs = std::filesystem;
using namespace ray_admission;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path source_dir() { return fs::path(RAY_ADMISSION_SOURCE_DIR); }

Json load_case_file(const fs::path& p) {
  YamlError err;
  auto docs = parse_yaml_stream(slurp(p), err);
  REQUIRE_MESSAGE(docs.has_value(), p.string() << ":" << err.mark.line << ": " << err.message);
  REQUIRE(docs->size() == 1);
  return (*docs)[0].value;
}

Policy case_policy(const Json& c) {
  if (!c.contains("policy")) return Policy{};
  PolicyError err;
  auto p = policy_from_json(c["policy"], err);
  REQUIRE_MESSAGE(p.has_value(), "bad policy in case: " << err.pointer << ": " << err.message);
  return *p;
}

std::string action_word(const Finding& f) { return f.action == Action::Off ? "fix" : std::string(to_string(f.action)); }

std::set<std::string> denied_rules(const Result& r) {
  std::set<std::string> out;
  for (const Finding* f : r.denials()) out.insert(f->rule);
  return out;
}

void run_case(const std::string& rule, const Json& c) {
  const std::string name = c.value("name", std::string("(unnamed)"));
  INFO("rule ", rule, ", case: ", name);
  REQUIRE(c.contains("object"));
  const Json& object = c["object"];
  Policy policy = case_policy(c);
  Result r = evaluate(object, policy, Mode::Mutate);

  // The findings of the rule under test, exactly, in order.
  std::vector<const Finding*> mine;
  for (const Finding& f : r.findings) {
    if (f.rule == rule) mine.push_back(&f);
  }
  const Json expect = c.value("expect", Json::array());
  std::ostringstream got;
  for (const Finding* f : mine) got << action_word(*f) << " " << f->pointer << ": " << f->message << "\n";
  INFO("findings:\n", got.str());
  REQUIRE(mine.size() == expect.size());
  for (std::size_t i = 0; i < mine.size(); ++i) {
    CHECK(action_word(*mine[i]) == expect[i].value("action", std::string()));
    CHECK(mine[i]->pointer == expect[i].value("pointer", std::string()));
    if (expect[i].contains("message")) {
      CHECK_MESSAGE(mine[i]->message.find(expect[i]["message"].get<std::string>()) != std::string::npos,
                    "message lacks: " << expect[i]["message"]);
    }
    CHECK(mine[i]->message.size() <= 256);
  }

  // Ops the patch must hold.
  for (const Json& op : c.value("patch", Json::array())) {
    bool found = false;
    for (const PatchOp& p : r.patch) found = found || p.to_json() == op;
    CHECK_MESSAGE(found, "patch lacks " << op.dump() << "; patch is " << patch_to_json(r.patch).dump());
  }

  // The mutation contract.
  Json patched = object;
  auto err = apply_patch(patched, r.patch);
  REQUIRE_MESSAGE(!err, "patch does not apply: " << *err << " patch: " << patch_to_json(r.patch).dump());
  Result again = evaluate(patched, policy, Mode::Mutate);
  CHECK_MESSAGE(again.patch.empty(), "second pass patched again: " << patch_to_json(again.patch).dump());
  Result before = evaluate(object, policy, Mode::Validate);
  Result after = evaluate(patched, policy, Mode::Validate);
  for (const std::string& d : denied_rules(after)) {
    CHECK_MESSAGE(denied_rules(before).count(d) != 0, "the mutation made rule " << d << " deny");
  }
}

}  // namespace

TEST_CASE("every rule has a case file with a tripping and a passing case") {
  for (const RuleInfo* r : all_rules()) {
    fs::path p = source_dir() / "test" / "rules" / (std::string(r->name) + ".yaml");
    INFO("rule ", r->name);
    REQUIRE_MESSAGE(fs::exists(p), "missing " << p);
    Json file = load_case_file(p);
    CHECK(file.value("rule", std::string()) == r->name);
    int tripping = 0, passing = 0;
    for (const Json& c : file.value("cases", Json::array())) {
      (c.value("expect", Json::array()).empty() ? passing : tripping)++;
    }
    CHECK(tripping >= 1);
    CHECK(passing >= 1);
  }
}

TEST_CASE("every case file names a registered rule") {
  for (const auto& entry : fs::directory_iterator(source_dir() / "test" / "rules")) {
    if (entry.path().extension() != ".yaml") continue;
    INFO(entry.path());
    CHECK(find_rule(entry.path().stem().string()) != nullptr);
  }
}

TEST_CASE("rule cases") {
  for (const auto& entry : fs::directory_iterator(source_dir() / "test" / "rules")) {
    if (entry.path().extension() != ".yaml") continue;
    const std::string rule = entry.path().stem().string();
    SUBCASE(rule.c_str()) {
      Json file = load_case_file(entry.path());
      for (const Json& c : file.value("cases", Json::array())) run_case(rule, c);
    }
  }
}

TEST_CASE("rule names are kebab-case and do not give advice") {
  for (const RuleInfo* r : all_rules()) {
    INFO(r->name);
    CHECK(!r->name.empty());
    for (char ch : r->name) CHECK(((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'));
    CHECK(r->name.find("use-") == std::string_view::npos);
    CHECK(r->name.find("avoid-") == std::string_view::npos);
    CHECK(!r->summary.empty());
    CHECK(!r->why.empty());
    CHECK(!r->example.empty());
    CHECK(!r->fix.empty());
    CHECK((r->mutation == Mutation::None) == r->mutation_doc.empty());
  }
}

TEST_CASE("docs/rules.md is what the registry generates") {
  std::string committed = slurp(source_dir() / "docs" / "rules.md");
  CHECK_MESSAGE(committed == cli::rules_markdown(),
                "docs/rules.md is stale: regenerate it with `build/ray-admission rules --markdown > docs/rules.md`");
}
