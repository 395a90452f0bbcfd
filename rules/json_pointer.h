// RFC 6901 JSON Pointers, built and read without exceptions.
#pragma once

#include "types.h"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ray_admission::pointer {

// "~" -> "~0", "/" -> "~1".
std::string escape(std::string_view token);
std::string unescape(std::string_view token);

// base + "/" + escape(token).
std::string child(std::string_view base, std::string_view token);
std::string child(std::string_view base, std::size_t index);

// Unescaped reference tokens of a pointer; "" -> {}.
std::vector<std::string> split(std::string_view ptr);

// The value a pointer names, or nullptr when it names nothing.
const Json* resolve(const Json& doc, std::string_view ptr);

// "/spec/workerGroupSpecs/1/template" -> "spec.workerGroupSpecs[1].template". Keys that are not
// plain identifiers are bracketed and quoted: metadata.annotations["ray.io/ft-enabled"].
std::string to_dotted(std::string_view ptr);

}  // namespace ray_admission::pointer
