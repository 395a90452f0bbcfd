// ray-resources-custom-only: the `resources` start parameter is a JSON map of custom resources.
#include "../json_pointer.h"
#include "../param_value.h"
#include "../ray_start.h"
#include "../rule.h"

namespace ray_admission::checks {

namespace {

// Where the value is, for a message: the rayStartParams entry, or the flag in a command.
std::string where(const Param& p) {
  return p.is_flag() ? "`ray start --resources` in " + pointer::to_dotted(p.pointer) : pointer::to_dotted(p.pointer);
}

// What `ray start` receives for a rayStartParams value: KubeRay pastes `--resources=<value>` into
// the `bash -c` command it runs, so the shell removes one level of quoting. nullopt when the shell
// would split the value into several words (unquoted JSON with spaces, or with its quotes eaten).
std::optional<std::string> after_shell(const std::string& value) {
  std::vector<std::string> words = shell_words(value);
  if (words.size() != 1 || words[0].empty() || words[0][0] == '\0') return std::nullopt;
  return words[0];
}

constexpr std::string_view kNotAMap = "is not a JSON map of resource names to numbers";
constexpr std::string_view kQuoted = "'\"{\\\"Custom1\\\": 1}\"'";  // '"{\"Custom1\": 1}"'
constexpr std::string_view kPlain = "'{\"Custom1\": 1}'";

std::string short_key(const std::string& key) { return key.size() <= 40 ? key : key.substr(0, 37) + "..."; }

// "" when `text` is a JSON object of name -> non-negative number without CPU, GPU or memory;
// otherwise what is wrong with it, as the rest of a sentence.
std::string judge(const std::string& text) {
  Json doc = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return std::string(kNotAMap);
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    const std::string& key = it.key();
    if (key == "CPU") return "sets CPU: give the CPU count with num-cpus and keep resources for custom resources";
    if (key == "GPU") return "sets GPU: give the GPU count with num-gpus and keep resources for custom resources";
    if (key == "memory") {
      return "sets memory: give it in bytes with the memory parameter and keep resources for custom resources";
    }
    if (!it.value().is_number()) return "gives " + short_key(key) + " a value that is not a number: use a number";
    if (it.value().get<double>() < 0) return "gives " + short_key(key) + " a negative amount: use zero or more";
  }
  return "";
}

void check(const Workload& w, Reporter& r) {
  for (const Group& g : w.groups) {
    auto p = g.param("resources");
    if (!p) continue;
    auto text = param_text(*p);
    if (!text) continue;  // a map or list value: ray-start-params-strings denies it
    if (text->find('$') != std::string::npos || text->find('`') != std::string::npos) continue;  // expanded later
    std::string problem = judge(*text);
    if (!p->is_flag()) {
      auto word = after_shell(*text);
      std::string after = word ? judge(*word) : std::string(kNotAMap);
      if (after.empty()) continue;
      if (problem.empty()) {
        // Plain JSON: right for Ray, but the shell KubeRay runs removes its quotes first.
        r.report(p->pointer, where(*p) +
                                 " reaches `ray start` through a shell that strips its quotes: write it in "
                                 "the quoted form " +
                                 std::string(kQuoted));
        continue;
      }
      if (after != kNotAMap) problem = after;  // the quoted form, read as Ray will read it
    }
    if (problem.empty()) continue;
    if (problem == kNotAMap) problem += ": write it like " + std::string(p->is_flag() ? kPlain : kQuoted);
    r.report(p->pointer, where(*p) + " " + problem);
  }
}

}  // namespace

extern const RuleInfo ray_resources_custom_only{
    .name = "ray-resources-custom-only",
    .default_action = Action::Deny,
    .mutation = Mutation::None,
    .origin = Origin::RayDocs,
    .summary = "The `resources` start parameter is a JSON map of custom resources only.",
    .why =
        "`ray start --resources` declares a node's custom resources as a JSON map of names to non-negative "
        "numbers; Ray refuses anything else and the node never starts. The Ray guide to RayCluster "
        "configuration forbids the keys CPU, GPU and memory there: those capacities come from `num-cpus`, "
        "`num-gpus` and `memory`. KubeRay writes the value into a shell command line, so in rayStartParams "
        "the JSON must keep its quotes through the shell: the documented form wraps it in double quotes "
        "with escaped inner quotes.",
    .example =
        "rayStartParams:\n"
        "  resources: '\"{\\\"CPU\\\": 4, \\\"Custom1\\\": 1}\"'\n",
    .fix =
        "Give CPUs, GPUs and memory with their own parameters and keep custom resources in `resources`:\n\n"
        "  rayStartParams:\n"
        "    num-cpus: \"4\"\n"
        "    resources: '\"{\\\"Custom1\\\": 1}\"'\n\n"
        "A static cluster writes the flag with shell quoting: `ray start --resources='{\"Custom1\": 1}'`.",
    .mutation_doc = "",
    .check = check,
};

}  // namespace ray_admission::checks
