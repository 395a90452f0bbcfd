// Compact JSON text of a Json value, for the server's answers.
//
// The same bytes as `value.dump(-1, ' ', false, Json::error_handler_t::replace)`, several times
// faster on the strings an answer is made of (docs/benchmarks.md): nlohmann's serializer decodes
// every byte of every string as UTF-8, while this copies runs of plain characters at once and
// hands only the rare odd string (invalid UTF-8) and every floating-point number to nlohmann.
#pragma once

#include "rules/types.h"

#include <string>
#include <string_view>

namespace ray_admission {

void append_json(std::string& out, const Json& value);
// A JSON string with the contents `s`, as append_json writes a string value.
void append_json_string(std::string& out, std::string_view s);
std::string to_json_text(const Json& value);

// The text of patch_to_json(patch) (rules/types.h), without building that Json first.
std::string patch_text(const Patch& patch);

}  // namespace ray_admission
