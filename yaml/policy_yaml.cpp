#include "policy_yaml.h"

#include "yaml_json.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ray_admission {

std::optional<Policy> load_policy_yaml(std::string_view text, std::string& error) {
  YamlError yerr;
  auto docs = parse_yaml_stream(text, yerr);
  if (!docs) {
    error = std::to_string(yerr.mark.line) + ":" + std::to_string(yerr.mark.column) + ": " + yerr.message;
    return std::nullopt;
  }
  if (docs->size() > 1) {
    error = std::to_string((*docs)[1].start.line) + ":1: a policy file holds one YAML document";
    return std::nullopt;
  }
  Json empty;
  const YamlDocument* doc = docs->empty() ? nullptr : &docs->front();
  PolicyError perr;
  auto policy = policy_from_json(doc != nullptr ? doc->value : empty, perr);
  if (!policy) {
    Mark m = doc != nullptr ? doc->locate(perr.pointer) : Mark{1, 1};
    error = std::to_string(m.line) + ":" + std::to_string(m.column) + ": " + perr.message;
  }
  return policy;
}

std::optional<Policy> load_policy_file(const std::string& path, std::string& error) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    error = path + ": cannot read: " + std::strerror(EISDIR);
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot read: " + std::strerror(errno);
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto policy = load_policy_yaml(ss.str(), error);
  if (!policy) error = path + ":" + error;
  return policy;
}

}  // namespace ray_admission
