// Value types shared by the engine, the rules and the shells around them.
#pragma once

#include "json/arena.h"

#include <nlohmann/json.hpp>

#include <cstdint>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ray_admission {

// nlohmann::ordered_json (it keeps the order of keys, so that --fix output reads like its input)
// with an allocator that lets the server's parser put a document in an arena (json/arena.h).
using Json = nlohmann::basic_json<nlohmann::ordered_map, std::vector, std::string, bool, std::int64_t, std::uint64_t,
                                  double, json_model::Allocator>;

// What happens to a request when a rule finds something.
enum class Action { Off, Warn, Deny };

std::string_view to_string(Action a);
std::optional<Action> parse_action(std::string_view s);

// One RFC 6902 operation. `path` and `from` are RFC 6901 pointers, already escaped.
struct PatchOp {
  std::string op;  // "add", "replace", "remove", "move"
  std::string path;
  std::string from;  // only for "move"
  Json value;        // unused for "remove" and "move"

  Json to_json() const;
  bool operator==(const PatchOp&) const = default;
};
using Patch = std::vector<PatchOp>;
Json patch_to_json(const Patch& p);

// A problem (or a missing default) one rule found in one object.
struct Finding {
  std::string rule;
  // Deny or Warn for a violation; Off for a finding that only carries a default to inject
  // (RULES.md's "–" rows: nothing is wrong, the mutation adds what the docs recommend).
  Action action = Action::Warn;
  std::string pointer;       // RFC 6901, e.g. /spec/workerGroupSpecs/1/template/spec/containers/0
                             // (pointer::to_dotted gives spec.workerGroupSpecs[1].template.spec.containers[0])
  std::string message;       // one sentence: where, what is wrong, the fix
  Patch fix;                 // the rule's mutation for this finding; empty when there is none
  bool fix_applied = false;  // set by the engine when the fix went into the result's patch
};

}  // namespace ray_admission
