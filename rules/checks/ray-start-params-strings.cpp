// ray-start-params-strings: every rayStartParams value is a string, as the CRD requires.
#include "../json_pointer.h"
#include "../param_value.h"
#include "../rule.h"

namespace ray_admission::checks {

namespace {

std::string_view type_name(const Json& v) {
  if (v.is_object()) return "a map";
  if (v.is_array()) return "a list";
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  return "a number";
}

void check(const Workload& w, Reporter& r) {
  if (!w.kuberay) return;
  for (const Group& g : w.groups) {
    if (g.start_params == nullptr) continue;
    if (!g.start_params->is_object()) {
      r.report(g.start_params_ptr, pointer::to_dotted(g.start_params_ptr) + " is " +
                                       std::string(type_name(*g.start_params)) +
                                       ": write it as a map of `ray start` flag names to string values");
      continue;
    }
    for (const Param& p : g.params()) {
      if (p.value->is_string()) continue;
      const std::string where = pointer::to_dotted(p.pointer);
      if (auto text = scalar_text(*p.value)) {
        r.report(p.pointer,
                 where + " is " + std::string(type_name(*p.value)) +
                     ", which the CRD schema rejects: quote it as the string \"" + *text + "\"",
                 replace_op(p.pointer, Json(*text)));
      } else {
        r.report(p.pointer, where + " is " + std::string(type_name(*p.value)) +
                                ": rayStartParams values become `ray start` flags and must be strings; write the value "
                                "as one string");
      }
    }
  }
}

}  // namespace

extern const RuleInfo ray_start_params_strings{
    .name = "ray-start-params-strings",
    .default_action = Action::Deny,
    .mutation = Mutation::OnByDefault,
    .origin = Origin::RayDocs,
    .summary = "Every rayStartParams value is a YAML string.",
    .why =
        "rayStartParams is a map from `ray start` flag names to strings: KubeRay pastes each value into "
        "the `ray start` command line. The Ray guide to RayCluster configuration stresses that even "
        "numeric values such as `num-cpus` must be given as strings, and the RayCluster schema rejects a "
        "bare number, boolean, list or map, so the API server refuses the whole object.",
    .example =
        "headGroupSpec:\n"
        "  rayStartParams:\n"
        "    num-cpus: 0\n"
        "    block: true\n",
    .fix =
        "Quote each value:\n\n"
        "  rayStartParams:\n"
        "    num-cpus: \"0\"\n"
        "    block: \"true\"\n",
    .mutation_doc =
        "A number or boolean is replaced by the same value as a string (`1` becomes `\"1\"`, `0.5` "
        "becomes `\"0.5\"`, `true` becomes `\"true\"`). A mutating webhook runs before the API server "
        "checks the schema, so this rescues an object that would otherwise be rejected. A list, map "
        "or null has no single string form: it is denied and left alone.",
    .check = check,
};

}  // namespace ray_admission::checks
