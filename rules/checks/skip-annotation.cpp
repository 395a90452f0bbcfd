// skip-annotation: every rule an object opts out of with `ray-admission.io/skip` exists.
#include "../json_pointer.h"
#include "../registry.h"
#include "../rule.h"

namespace ray_admission::checks {

namespace {

constexpr std::string_view kAnnotation = "ray-admission.io/skip";

// The comma-separated names, trimmed of blanks, as the engine reads them; empty items are ignored.
std::vector<std::string> names(const std::string& s) {
  std::vector<std::string> out;
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

void check(const Workload& w, Reporter& r) {
  // A server told to ignore opt-outs ignores the annotation altogether: nothing to get wrong.
  if (!r.policy().honor_skip_annotation) return;
  const Json* v = member(member(member(w.object, "metadata"), "annotations"), kAnnotation);
  if (v == nullptr || !v->is_string()) return;
  std::string unknown;
  int count = 0;
  for (const std::string& n : names(v->get_ref<const std::string&>())) {
    if (find_rule(n) != nullptr) continue;
    if (unknown.find("\"" + n + "\"") != std::string::npos) continue;  // listed twice
    if (count++ > 0) unknown += ", ";
    unknown += "\"" + (n.size() > 40 ? n.substr(0, 40) + "..." : n) + "\"";
    if (unknown.size() > 120) {
      unknown += ", ...";
      break;
    }
  }
  if (count == 0) return;
  const std::string ptr = pointer::child("/metadata/annotations", kAnnotation);
  r.report(ptr, pointer::to_dotted(ptr) + " names " + (count == 1 ? "an unknown rule: " : "unknown rules: ") + unknown +
                    "; fix the spelling (`ray-admission rules` lists them) or remove it");
}

}  // namespace

extern const RuleInfo skip_annotation{
    .name = "skip-annotation",
    .default_action = Action::Deny,
    .mutation = Mutation::None,
    .origin = Origin::RayAdmission,
    .summary = "The `ray-admission.io/skip` annotation names only rules that exist.",
    .why =
        "An object opts out of rules by listing their names, comma-separated, in the "
        "`ray-admission.io/skip` annotation. A misspelt name would otherwise opt out of nothing without a "
        "word, and the user would believe a rule is off when it is not (or, after a rename, that it is on). "
        "ray-admission's spec makes an unknown name an error the user sees. Blanks around names and empty "
        "items are ignored. When the server is configured to ignore opt-outs, the annotation has no effect "
        "and is not checked.",
    .example =
        "metadata:\n"
        "  name: demo\n"
        "  annotations:\n"
        "    ray-admission.io/skip: \"ray-pre-stop\"\n",
    .fix =
        "Use the exact rule names that `ray-admission rules` prints:\n\n"
        "  metadata:\n"
        "    annotations:\n"
        "      ray-admission.io/skip: \"ray-prestop\"\n",
    .mutation_doc = "",
    .check = check,
};

}  // namespace ray_admission::checks
