#include "yaml_json.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <regex>

namespace ray_admission {

using json = nlohmann::ordered_json;

Mark YamlDocument::locate(std::string_view ptr) const {
  std::string p(ptr);
  while (true) {
    if (auto it = marks.find(p); it != marks.end()) return it->second;
    if (p.empty()) return start;
    p.erase(p.rfind('/'));
  }
}

namespace {

std::string escape_token(const std::string& t) {
  std::string out;
  for (char c : t) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

bool is_one_of(std::string_view s, std::initializer_list<std::string_view> words) {
  for (auto w : words) {
    if (s == w) return true;
  }
  return false;
}

std::string without_underscores(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c != '_') out += c;
  }
  return out;
}

// How a plain (unquoted) scalar reads, as Kubernetes' YAML parser types it.
json resolve_plain(const std::string& s) {
  if (is_one_of(s, {"", "~", "null", "Null", "NULL"})) return nullptr;
  if (is_one_of(s, {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y"})) return true;
  if (is_one_of(s, {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N"})) return false;
  static const std::regex kInt("[-+]?(0|[1-9][0-9_]*)");
  static const std::regex kHex("[-+]?0x[0-9a-fA-F_]+");
  static const std::regex kFloat("[-+]?(\\.[0-9]+|[0-9][0-9_]*(\\.[0-9_]*)?)([eE][-+]?[0-9]+)?");
  if (std::regex_match(s, kInt)) {
    std::string digits = without_underscores(s);
    if (!digits.empty() && digits[0] == '+') digits.erase(0, 1);
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec == std::errc() && p == digits.data() + digits.size()) return v;
    return std::stod(digits);  // too large for an integer: a float, as the Go parser does
  }
  if (std::regex_match(s, kHex)) {
    bool neg = s[0] == '-';
    std::string digits = without_underscores(s.substr(s.find('x') + 1));
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, 16);
    if (ec == std::errc() && p == digits.data() + digits.size() && v <= static_cast<std::uint64_t>(INT64_MAX)) {
      return neg ? -static_cast<std::int64_t>(v) : static_cast<std::int64_t>(v);
    }
    return s;
  }
  if (std::regex_match(s, kFloat)) {
    double d = std::stod(without_underscores(s));
    if (std::isfinite(d)) return d;
  }
  return s;
}

class Converter {
 public:
  explicit Converter(YamlDocument& doc) : doc_(doc) {}

  json convert(const YAML::Node& node, const std::string& ptr, int depth) {
    if (depth > 512) throw YAML::ParserException(node.Mark(), "nesting deeper than 512 levels");
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return nullptr;
      case YAML::NodeType::Scalar:
        if (node.Tag() == "?") return resolve_plain(node.Scalar());
        if (node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str" || node.Tag() == "!!str") return node.Scalar();
        return resolve_plain(node.Scalar());  // other explicit tags: read the text as plain
      case YAML::NodeType::Sequence: {
        json arr = json::array();
        std::size_t i = 0;
        for (const YAML::Node& item : node) {
          std::string p = ptr + "/" + std::to_string(i++);
          record(p, item.Mark());
          arr.push_back(convert(item, p, depth + 1));
        }
        return arr;
      }
      case YAML::NodeType::Map: {
        json obj = json::object();
        for (const auto& kv : node) {
          std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
          if (key == "<<") continue;  // merge keys are not used in Kubernetes manifests
          std::string p = ptr + "/" + escape_token(key);
          record(p, kv.first.Mark());
          obj[key] = convert(kv.second, p, depth + 1);
        }
        return obj;
      }
    }
    return nullptr;
  }

 private:
  void record(const std::string& ptr, const YAML::Mark& m) {
    if (m.line >= 0) doc_.marks.emplace(ptr, Mark{m.line + 1, m.column + 1});
  }
  YamlDocument& doc_;
};

}  // namespace

std::optional<std::vector<YamlDocument>> parse_yaml_stream(std::string_view text, YamlError& error) {
  std::vector<YamlDocument> out;
  try {
    std::vector<YAML::Node> nodes = YAML::LoadAll(std::string(text));
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      YamlDocument doc;
      doc.index = static_cast<int>(i);
      const YAML::Mark m = nodes[i].Mark();
      doc.start = Mark{m.line >= 0 ? m.line + 1 : 1, m.column >= 0 ? m.column + 1 : 1};
      Converter conv(doc);
      doc.value = conv.convert(nodes[i], "", 0);
      out.push_back(std::move(doc));
    }
  } catch (const YAML::Exception& e) {
    error.mark = Mark{e.mark.line >= 0 ? e.mark.line + 1 : 0, e.mark.column >= 0 ? e.mark.column + 1 : 0};
    error.message = e.msg;
    return std::nullopt;
  }
  return out;
}

namespace {

bool plain_safe(const std::string& s) {
  if (s.empty()) return false;
  if (!resolve_plain(s).is_string()) return false;  // it would read back as another type
  if (std::string_view("-?:,[]{}#&*!|>'\"%@`").find(s[0]) != std::string_view::npos) return false;
  if (s.front() == ' ' || s.back() == ' ' || s.back() == ':') return false;
  if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos) return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// A multi-line string as a literal block, when that reads back exactly.
bool literal_safe(const std::string& s) {
  if (s.find('\n') == std::string::npos) return false;
  if (s.front() == ' ' || s.front() == '\n') return false;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '\n') {
      if (i > line_start && (s[i - 1] == ' ' || s[i - 1] == '\t')) return false;
      line_start = i + 1;
    } else if ((static_cast<unsigned char>(s[i]) < 0x20 && s[i] != '\t') || s[i] == 0x7f) {
      return false;
    }
  }
  return true;
}

std::string scalar(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    return plain_safe(s) ? s : v.dump();
  }
  return v.dump();
}

void emit(const json& v, int indent, std::string& out);

void emit_literal(const std::string& s, int indent, std::string& out) {
  std::size_t trailing = 0;
  while (trailing < s.size() && s[s.size() - 1 - trailing] == '\n') ++trailing;
  out += trailing == 0 ? "|-" : trailing == 1 ? "|" : "|+";
  out += '\n';
  std::string pad(static_cast<std::size_t>(indent), ' ');
  std::size_t pos = 0;
  std::string body = s.substr(0, s.size() - trailing);
  while (pos <= body.size()) {
    std::size_t nl = body.find('\n', pos);
    if (nl == std::string::npos) nl = body.size();
    std::string line = body.substr(pos, nl - pos);
    if (!line.empty()) out += pad + line;
    out += '\n';
    pos = nl + 1;
  }
  for (std::size_t k = 1; k < trailing; ++k) out += '\n';
}

// Emits the value that follows "key:" or "- ": inline scalars and empty containers, or a newline
// and a nested block.
void emit_after_indicator(const json& v, int indent, std::string& out, bool in_sequence) {
  if (v.is_string() && literal_safe(v.get_ref<const std::string&>())) {
    out += ' ';
    emit_literal(v.get_ref<const std::string&>(), indent + 2, out);
  } else if (v.is_object() && !v.empty()) {
    if (in_sequence) {
      // "- key: value" with the rest of the mapping aligned under the first key.
      out += ' ';
      std::string nested;
      emit(v, indent + 2, nested);
      out += nested.substr(static_cast<std::size_t>(indent + 2));
    } else {
      out += '\n';
      emit(v, indent + 2, out);
    }
  } else if (v.is_array() && !v.empty()) {
    out += '\n';
    emit(v, in_sequence ? indent + 2 : indent, out);
  } else {
    out += ' ';
    out += v.is_object() ? "{}" : v.is_array() ? "[]" : scalar(v);
    out += '\n';
  }
}

void emit(const json& v, int indent, std::string& out) {
  std::string pad(static_cast<std::size_t>(indent), ' ');
  if (v.is_object() && !v.empty()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      out += pad + scalar(json(it.key())) + ":";
      emit_after_indicator(it.value(), indent, out, false);
    }
  } else if (v.is_array() && !v.empty()) {
    for (const json& item : v) {
      out += pad + "-";
      emit_after_indicator(item, indent, out, true);
    }
  } else {
    out += pad + (v.is_object() ? "{}" : v.is_array() ? "[]" : scalar(v)) + "\n";
  }
}

}  // namespace

std::string to_yaml(const json& value) {
  std::string out;
  emit(value, 0, out);
  return out;
}

}  // namespace ray_admission
