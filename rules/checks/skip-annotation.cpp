// skip-annotation: every rule an object opts out of with `ray-admission.io/skip` exists.
#include "../engine.h"
#include "../json_pointer.h"
#include "../registry.h"
#include "../rule.h"

namespace ray_admission::checks {

namespace {

void check(const Workload& w, Reporter& r) {
  // A server told to ignore opt-outs ignores the annotation altogether: nothing to get wrong.
  if (!r.policy().honor_skip_annotation) return;
  std::string unknown;
  int count = 0;
  for (const std::string& n : skip_annotation_names(*w.object)) {
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
  const std::string ptr = pointer::child("/metadata/annotations", kSkipAnnotation);
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
