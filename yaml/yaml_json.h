// YAML files as JSON documents, with the line and column of every value.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ray_admission {

struct Mark {
  int line = 0;  // 1-based
  int column = 0;  // 1-based
};

struct YamlDocument {
  nlohmann::ordered_json value;
  int index = 0;     // 0-based position in the stream
  Mark start;        // where the document starts
  std::unordered_map<std::string, Mark> marks;  // JSON Pointer -> where that value starts

  // The mark of `ptr`, or of its nearest ancestor that has one.
  Mark locate(std::string_view ptr) const;
};

struct YamlError {
  Mark mark;
  std::string message;
};

// Parses every document of a YAML stream. Scalars are typed as Kubernetes reads YAML: quoted
// scalars are strings; plain ones become null, booleans, integers or floats when they look like
// one (YAML 1.2 core schema, plus YAML 1.1's yes/no/on/off that Kubernetes' parser also takes),
// and strings otherwise. Empty documents are kept as null. Anchors and aliases are expanded.
std::optional<std::vector<YamlDocument>> parse_yaml_stream(std::string_view text, YamlError& error);

// Renders a JSON value as block-style YAML that parses back (with the rules above) to the same
// value: strings that would read as another type are quoted.
std::string to_yaml(const nlohmann::ordered_json& value);

}  // namespace ray_admission
