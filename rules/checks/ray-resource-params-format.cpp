// ray-resource-params-format: num-cpus, num-gpus, memory and object-store-memory are numbers Ray
// can read: counts for CPUs and GPUs, whole bytes for memory.
#include "../json_pointer.h"
#include "../param_value.h"
#include "../quantity.h"
#include "../rule.h"

#include <array>
#include <cctype>
#include <cmath>

namespace ray_admission::checks {

namespace {

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (std::isdigit(static_cast<unsigned char>(c)) == 0) return false;
  }
  return true;
}

// A plain non-negative decimal: "4", "0.5", ".5", "2.", "1e3", "2.5E-1".
bool is_non_negative_number(std::string_view s) {
  std::size_t i = 0, digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) != 0) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) != 0) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!all_digits(s.substr(i))) return false;
    i = s.size();
  }
  return i == s.size();
}

std::string where(const Param& p) {
  return p.is_flag() ? "`ray start --" + p.name + "` in " + pointer::to_dotted(p.pointer)
                     : pointer::to_dotted(p.pointer);
}

std::string shown(std::string_view text) {
  std::string out = "\"";
  out += text.size() <= 40 ? std::string(text) : std::string(text.substr(0, 37)) + "...";
  return out + "\"";
}

// num-cpus and num-gpus: `ray start` declares both as click integers, so "0.5" stops it too.
void check_count(const Param& p, const std::string& text, Reporter& r) {
  if (all_digits(text)) return;
  const std::string unit = p.name == "num-cpus" ? "CPUs" : "GPUs";
  if (is_non_negative_number(text)) {
    auto q = Quantity::parse(text);
    long long near = q && q->to_double() < 1e15 ? std::llround(q->to_double()) : 1;
    r.report(p.pointer, where(p) + " is " + shown(text) + ": `ray start` takes a whole number of " + unit +
                            "; give one, e.g. \"" + std::to_string(near) + "\"");
  } else {
    r.report(p.pointer,
             where(p) + " is " + shown(text) + ", not a number of " + unit + ": give a whole number such as \"1\"");
  }
}

void check_bytes(const Param& p, const std::string& text, Reporter& r) {
  if (all_digits(text)) return;
  auto q = Quantity::parse(text);
  if (!q || q->is_negative()) {
    r.report(p.pointer, where(p) + " is " + shown(text) + ", not an amount of memory: give a whole number of bytes");
    return;
  }
  auto bytes = q->to_integer();
  if (!bytes) {
    r.report(p.pointer,
             where(p) + " is " + shown(text) + ", not a whole number of bytes: give one, e.g. \"1073741824\" for 1Gi");
    return;
  }
  const std::string value = std::to_string(*bytes);
  if (p.is_flag() || !p.value->is_string()) {
    // Never rewrite a shell command; a JSON number is quoted by ray-start-params-strings.
    r.report(p.pointer, where(p) + " is " + shown(text) + ", but Ray reads bytes only: write \"" + value + "\"");
    return;
  }
  r.report(p.pointer,
           where(p) + " is the Kubernetes quantity " + shown(text) + ", but Ray reads bytes only: converted to \"" +
               value + "\"",
           replace_op(p.pointer, Json(value)));
}

void check(const Workload& w, Reporter& r) {
  constexpr std::array<std::string_view, 4> kNames = {"num-cpus", "num-gpus", "memory", "object-store-memory"};
  for (const Group& g : w.groups) {
    for (std::string_view name : kNames) {
      auto p = g.param(name);
      if (!p) continue;
      auto text = param_text(*p);
      if (!text) continue;  // a map, list or null: ray-start-params-strings denies it
      if (text->find('$') != std::string::npos || text->find('`') != std::string::npos) continue;  // expanded later
      if (name == "memory" || name == "object-store-memory") {
        check_bytes(*p, *text, r);
      } else {
        check_count(*p, *text, r);
      }
    }
  }
}

}  // namespace

extern const RuleInfo ray_resource_params_format{
    .name = "ray-resource-params-format",
    .default_action = Action::Deny,
    .mutation = Mutation::OnByDefault,
    .origin = Origin::RayDocs,
    .summary =
        "num-cpus, num-gpus, memory and object-store-memory are whole non-negative numbers, memory sizes "
        "in bytes.",
    .why =
        "These parameters override what Ray would detect from the container's limits. `ray start` declares all "
        "four as integer options: a count of CPUs, a count of GPUs, and memory sizes in bytes. Anything else "
        "(`1.5`, `0.5` GPUs, Kubernetes suffixes such as `Gi` or `500m`) makes `ray start` exit with an error, "
        "so the Ray node never starts. The Ray guide to RayCluster configuration gives `memory` in bytes. "
        "Fractional GPUs are for tasks and actors (`num_gpus=0.5`), not for a node's capacity. Values holding "
        "a shell variable (`$MY_CPUS`) are not judged.",
    .example =
        "rayStartParams:\n"
        "  num-cpus: \"1.5\"\n"
        "  memory: \"54Gi\"\n",
    .fix =
        "Give a whole number of CPUs and the memory in bytes:\n\n"
        "  rayStartParams:\n"
        "    num-cpus: \"1\"\n"
        "    memory: \"57982058496\"\n",
    .mutation_doc =
        "A `memory` or `object-store-memory` rayStartParams value that is a valid Kubernetes quantity "
        "of whole bytes (`54Gi`, `1e9`, `500M`) is replaced by the same amount in bytes (`\"54Gi\"` "
        "becomes `\"57982058496\"`), and the finding says so. Flags in a static cluster's shell "
        "command are never rewritten, and other mistakes are only reported.",
    .check = check,
};

}  // namespace ray_admission::checks
