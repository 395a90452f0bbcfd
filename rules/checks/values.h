// Reading resource values in rules: a JSON value as a Kubernetes quantity, and a value shortened
// for a message. Header-only.
#pragma once

#include "../quantity.h"
#include "../types.h"

#include <optional>
#include <string>

namespace ray_admission::checks {

// A quantity written as a string ("500m", "4Gi") or as a bare number (4, 0.5).
inline std::optional<Quantity> quantity_of(const Json& v) {
  if (v.is_string()) return Quantity::parse(v.get_ref<const std::string&>());
  if (v.is_number()) return Quantity::parse(v.dump());
  return std::nullopt;
}

// A value as a message shows it, cut short so that the message stays under 256 characters.
inline std::string text_of(const Json& v) {
  std::string s = v.is_string() ? v.get<std::string>() : v.dump();
  return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

}  // namespace ray_admission::checks
