// YAML files as JSON documents, with the line and column of every value.
#pragma once

#include "rules/types.h"

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ray_admission {

struct Mark {
  int line = 0;    // 1-based
  int column = 0;  // 1-based
};

struct YamlDocument {
  Json value;
  int index = 0;                                // 0-based position in the stream
  Mark start;                                   // where the document starts
  std::unordered_map<std::string, Mark> marks;  // JSON Pointer -> where that value starts

  // The mark of `ptr`, or of its nearest ancestor that has one.
  Mark locate(std::string_view ptr) const;
};

struct YamlError {
  Mark mark;
  std::string message;
};

// Parses every document of a YAML stream. Scalars are typed as kubectl reads YAML
// (sigs.k8s.io/yaml over go-yaml v2): quoted scalars are strings; plain ones become null,
// booleans (also y/n, yes/no, on/off), integers (0777 is octal, 0x1F hex, 1_000 a thousand) or
// floats when they look like one, and strings otherwise. A float with no fraction (1e3, 2.0) is an
// integer, as in the JSON kubectl sends. Empty documents are kept as null. Anchors, aliases and
// merge keys (<<) are expanded.
std::optional<std::vector<YamlDocument>> parse_yaml_stream(std::string_view text, YamlError& error);

// Renders a JSON value as block-style YAML that parses back (with the rules above) to the same
// value: strings that would read as another type are quoted.
std::string to_yaml(const Json& value);

}  // namespace ray_admission
