// The text of a rayStartParams value or `ray start` flag as Ray would receive it, for the rules
// that judge that text. Header-only.
#pragma once

#include "types.h"
#include "workload.h"

#include <cmath>
#include <optional>
#include <string>

namespace ray_admission {

// A JSON number or boolean written as a person would write it in YAML: 1 (not 1.0), 0.5, true.
// nullopt for strings, objects, arrays and null.
inline std::optional<std::string> scalar_text(const Json& v) {
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_unsigned()) return std::to_string(v.get<unsigned long long>());
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) return std::to_string(static_cast<long long>(d));
    return v.dump();  // the shortest text that reads back as the same double: 0.5, 1e+20
  }
  return std::nullopt;
}

// What a parameter's value says: a flag's value, a JSON string's contents, a number or boolean as
// scalar_text writes it (ray-start-params-strings turns it into that string). nullopt for an
// object, an array or null, which only ray-start-params-strings judges.
inline std::optional<std::string> param_text(const Param& p) {
  if (p.is_flag() || p.value->is_string()) return p.text;
  return scalar_text(*p.value);
}

}  // namespace ray_admission
