// `ray-admission check`: the rule engine over YAML files, like a compiler's diagnostics.
#include "commands.h"

#include "rules/engine.h"
#include "rules/json_pointer.h"
#include "rules/patch.h"
#include "yaml/policy_yaml.h"
#include "yaml/yaml_json.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <tuple>
#include <string>
#include <vector>

namespace ray_admission::cli {

namespace {

constexpr std::string_view kUsage =
    "usage: ray-admission check [--policy FILE] [--profile default|strict|audit] [--format text|json] [--fix] "
    "FILE...\n"
    "  Checks Ray workloads in YAML files ('-' reads stdin). Exit status: 0 no denial, 1 at least one\n"
    "  denial, 2 the input or the policy could not be read.\n"
    "  --fix  print every document, with the mutations applied, as YAML on stdout; findings go to stderr\n";

struct Options {
  std::string policy_file;
  std::string profile;
  bool json = false;
  bool fix = false;
  std::vector<std::string> files;
};

int usage_error(const std::string& msg) {
  std::cerr << "ray-admission check: " << msg << "\n" << kUsage;
  return 2;
}

bool read_input(const std::string& file, std::string& text, std::string& error) {
  if (file == "-") {
    std::stringstream ss;
    ss << std::cin.rdbuf();
    text = ss.str();
    return true;
  }
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) {
    error = file + ": cannot read: " + std::strerror(EISDIR);  // an ifstream would read it as empty
    return false;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    error = file + ": cannot read: " + std::strerror(errno);
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    error = file + ": cannot read: " + std::strerror(errno);
    return false;
  }
  text = ss.str();
  return true;
}

std::string string_field(const Json& obj, std::string_view a, std::string_view b = {}) {
  if (!obj.is_object()) return "";
  auto it = obj.find(a);
  if (it == obj.end()) return "";
  if (!b.empty()) return string_field(*it, b);
  return it->is_string() ? it->get<std::string>() : "";
}

// One object to check: a YAML document, or one item of a `kind: List` document.
struct Unit {
  const Json* object;
  std::string prefix;  // the object's pointer in its document: "" or /items/N
  int item = -1;       // N for a List item
};

bool is_list(const Json& doc) {
  if (!doc.is_object()) return false;
  auto kind = doc.find("kind");
  auto items = doc.find("items");
  if (kind == doc.end() || !kind->is_string() || items == doc.end() || !items->is_array()) return false;
  const std::string& k = kind->get_ref<const std::string&>();
  return k.size() >= 4 && k.compare(k.size() - 4, 4, "List") == 0;  // List, RayClusterList, ...
}

std::vector<Unit> units_of(const Json& doc) {
  if (!is_list(doc) || doc["items"].empty()) return {Unit{&doc, "", -1}};
  std::vector<Unit> out;
  const Json& items = doc["items"];
  for (std::size_t i = 0; i < items.size(); ++i) {
    out.push_back(Unit{&items[i], "/items/" + std::to_string(i), static_cast<int>(i)});
  }
  return out;
}

struct Totals {
  int documents = 0;
  int denials = 0;
  int warnings = 0;
  int fixed = 0;
};

}  // namespace

int check_main(Args args) {
  Options opt;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    auto value = [&](const char* name) -> std::optional<std::string> {
      if (i + 1 >= args.size()) return std::nullopt;
      (void)name;
      return std::string(args[++i]);
    };
    if (a == "--policy") {
      auto v = value("--policy");
      if (!v) return usage_error("--policy needs a file");
      opt.policy_file = *v;
    } else if (a == "--profile") {
      auto v = value("--profile");
      if (!v) return usage_error("--profile needs a name");
      opt.profile = *v;
    } else if (a == "--format") {
      auto v = value("--format");
      if (!v || (*v != "text" && *v != "json")) return usage_error("--format is text or json");
      opt.json = *v == "json";
    } else if (a == "--fix") {
      opt.fix = true;
    } else if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (a.size() > 1 && a[0] == '-') {
      return usage_error("unknown option " + a);
    } else {
      opt.files.push_back(a);
    }
  }
  if (opt.files.empty()) return usage_error("no input files");
  if (opt.fix && opt.json) return usage_error("--fix writes YAML; it does not combine with --format json");

  Policy policy;
  if (!opt.policy_file.empty()) {
    std::string err;
    auto p = load_policy_file(opt.policy_file, err);
    if (!p) {
      std::cerr << err << "\n";
      return 2;
    }
    policy = std::move(*p);
  }
  if (!opt.profile.empty()) {
    auto prof = parse_profile(opt.profile);
    if (!prof) return usage_error("unknown profile '" + opt.profile + "' (default, strict, audit)");
    policy.profile = *prof;
  }

  // Read and parse everything first: a file that cannot be read stops the run before any output.
  struct Input {
    std::string name;
    std::vector<YamlDocument> docs;
  };
  std::vector<Input> inputs;
  for (const std::string& file : opt.files) {
    std::string text, err;
    if (!read_input(file, text, err)) {
      std::cerr << err << "\n";
      return 2;
    }
    std::string name = file == "-" ? "<stdin>" : file;
    YamlError yerr;
    auto docs = parse_yaml_stream(text, yerr);
    if (!docs) {
      std::cerr << name << ":" << yerr.mark.line << ":" << yerr.mark.column << ": error: invalid YAML: " << yerr.message
                << "\n";
      return 2;
    }
    inputs.push_back(Input{name, std::move(*docs)});
  }

  Totals totals;
  Json results = Json::array();
  std::ostream& diag = opt.fix ? std::cerr : std::cout;
  bool first_doc = true;
  for (const Input& in : inputs) {
    for (const YamlDocument& doc : in.docs) {
      // `kubectl get ... -o yaml` wraps several objects in one `kind: List`: check each item.
      const std::vector<Unit> units = units_of(doc.value);
      Json out = opt.fix ? doc.value : Json();
      for (const Unit& u : units) {
        ++totals.documents;
        const Json& object = *u.object;
        Result r = evaluate(object, policy, Mode::Mutate);
        bool allowed = true;
        Json findings = Json::array();
        // In the order of the file, as a compiler lists its diagnostics (rule order breaks ties).
        std::vector<std::pair<Mark, const Finding*>> ordered;
        for (const Finding& f : r.findings) ordered.emplace_back(doc.locate(u.prefix + f.pointer), &f);
        std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) {
          return std::tie(a.first.line, a.first.column) < std::tie(b.first.line, b.first.column);
        });
        for (const auto& [m, fp] : ordered) {
          const Finding& f = *fp;
          if (f.action == Action::Off) {  // a default the mutation adds
            if (opt.fix) {
              diag << in.name << ":" << m.line << ":" << m.column << ": fixed [" << f.rule << "] " << f.message << "\n";
              ++totals.fixed;
            }
            continue;
          }
          const bool fixed_now = opt.fix && f.fix_applied;
          if (f.action == Action::Deny && !fixed_now) {
            allowed = false;
            ++totals.denials;
          } else if (f.action == Action::Warn) {
            ++totals.warnings;
          }
          if (fixed_now) ++totals.fixed;
          if (opt.json) {
            findings.push_back({{"rule", f.rule},
                                {"action", to_string(f.action)},
                                {"path", pointer::to_dotted(f.pointer)},
                                {"pointer", f.pointer},
                                {"line", m.line},
                                {"column", m.column},
                                {"message", f.message},
                                {"fixable", !f.fix.empty()}});
          } else {
            diag << in.name << ":" << m.line << ":" << m.column << ": " << (fixed_now ? "fixed" : to_string(f.action))
                 << " [" << f.rule << "] " << f.message << "\n";
          }
        }
        if (opt.json) {
          Json result = {{"file", in.name},
                         {"document", doc.index},
                         {"apiVersion", string_field(object, "apiVersion")},
                         {"kind", string_field(object, "kind")},
                         {"name", string_field(object, "metadata", "name")},
                         {"recognised", r.recognised},
                         {"allowed", allowed},
                         {"findings", std::move(findings)},
                         {"patch", patch_to_json(r.patch)}};  // against the object (the item of a List)
          if (u.item >= 0) result["item"] = u.item;
          results.push_back(std::move(result));
        }
        if (opt.fix && !r.patch.empty()) {
          Patch in_doc = r.patch;
          for (PatchOp& op : in_doc) {
            op.path = u.prefix + op.path;
            if (!op.from.empty() || op.op == "move") op.from = u.prefix + op.from;
          }
          if (auto err = apply_patch(out, in_doc)) {
            std::cerr << in.name << ":" << doc.start.line << ":1: internal error: the patch does not apply: " << *err
                      << "\n";
            return 2;
          }
        }
      }
      if (opt.fix) {
        if (!first_doc) std::cout << "---\n";
        first_doc = false;
        std::cout << to_yaml(out);
      }
    }
  }
  if (opt.json) {
    std::cout << Json{{"results", std::move(results)}}.dump(2) << "\n";
  } else {
    diag << totals.documents << (totals.documents == 1 ? " document" : " documents") << " checked: " << totals.denials
         << (totals.denials == 1 ? " denial" : " denials") << ", " << totals.warnings
         << (totals.warnings == 1 ? " warning" : " warnings");
    if (opt.fix) diag << ", " << totals.fixed << " fixed";
    diag << "\n";
  }
  return totals.denials > 0 ? 1 : 0;
}

}  // namespace ray_admission::cli
