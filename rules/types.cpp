#include "types.h"

namespace ray_admission {

std::string_view to_string(Action a) {
  switch (a) {
    case Action::Off: return "off";
    case Action::Warn: return "warn";
    case Action::Deny: return "deny";
  }
  return "";
}

std::optional<Action> parse_action(std::string_view s) {
  if (s == "off") return Action::Off;
  if (s == "warn") return Action::Warn;
  if (s == "deny") return Action::Deny;
  return std::nullopt;
}

Json PatchOp::to_json() const {
  Json j = {{"op", op}, {"path", path}};
  if (op == "move" || op == "copy") {
    j["from"] = from;
  } else if (op != "remove") {
    j["value"] = value;
  }
  return j;
}

Json patch_to_json(const Patch& p) {
  Json arr = Json::array();
  for (const PatchOp& op : p) arr.push_back(op.to_json());
  return arr;
}

}  // namespace ray_admission
