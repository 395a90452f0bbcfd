#include "yaml_json.h"

#include <yaml-cpp/yaml.h>

#include "rules/json_pointer.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <vector>

namespace ray_admission {

using json = Json;

Mark YamlDocument::locate(std::string_view ptr) const {
  std::string p(ptr);
  while (true) {
    if (auto it = marks.find(p); it != marks.end()) return it->second;
    if (p.empty()) return start;
    p.erase(p.rfind('/'));
  }
}

namespace {

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

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?, go-yaml's yamlStyleFloat. By hand: std::regex
// recurses once per character and overflows the stack on a long scalar.
bool go_float_syntax(std::string_view s) {
  std::size_t i = 0;
  auto digits = [&] {
    std::size_t start = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    return i - start;
  };
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (digits() == 0) return false;
  } else {
    if (digits() == 0) return false;
    if (i < s.size() && s[i] == '.') {
      ++i;
      digits();
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == s.size();
}

// A plain scalar that starts like a number ('+', '-', '.', a digit), read as go-yaml v2 reads it
// (resolve.go): Go's strconv.ParseInt(s, 0, 64) once underscores are dropped (so 0777 is octal,
// 0x1F hex, 0b101 binary, 0o17 octal), then ParseUint, then a float of the form
// [-+]?(.N|N(.N*)?)([eE][-+]?N)?. A float with no fraction becomes an integer: kubectl sends the
// API server JSON written by Go's encoding/json, where 1e3 and 2.0 are 1000 and 2, and that JSON
// is what the webhook sees. nullopt: not a number (a string).
std::optional<json> resolve_number(const std::string& s) {
  if (s.empty()) return std::nullopt;
  const char c0 = s[0];
  if (c0 != '.' && c0 != '+' && c0 != '-' && !std::isdigit(static_cast<unsigned char>(c0))) return std::nullopt;
  // A leading '.' goes straight to ParseFloat (no underscores); the rest drop underscores first.
  const std::string plain = c0 == '.' ? s : without_underscores(s);
  if (c0 != '.') {
    std::string_view body = plain;
    const bool has_sign = body[0] == '+' || body[0] == '-';
    const bool negative = body[0] == '-';
    if (has_sign) body.remove_prefix(1);
    int base = 10;
    if (body.size() > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')) {
      base = 16;
      body.remove_prefix(2);
    } else if (body.size() > 2 && body[0] == '0' && (body[1] == 'b' || body[1] == 'B')) {
      base = 2;
      body.remove_prefix(2);
    } else if (body.size() > 2 && body[0] == '0' && (body[1] == 'o' || body[1] == 'O')) {
      base = 8;
      body.remove_prefix(2);
    } else if (body.size() > 1 && body[0] == '0') {
      base = 8;
      body.remove_prefix(1);
    }
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(body.data(), body.data() + body.size(), v, base);
    if (!body.empty() && ec == std::errc() && p == body.data() + body.size()) {
      constexpr std::uint64_t kMaxInt = static_cast<std::uint64_t>(INT64_MAX);
      if (!negative && v <= kMaxInt) return json(static_cast<std::int64_t>(v));
      if (negative && v <= kMaxInt + 1) return json(v == kMaxInt + 1 ? INT64_MIN : -static_cast<std::int64_t>(v));
      if (!has_sign) return json(v);  // ParseUint
    }
  }
  if (!go_float_syntax(plain)) return std::nullopt;
  char* end = nullptr;
  const double d = std::strtod(plain.c_str(), &end);
  if (end != plain.c_str() + plain.size() || !std::isfinite(d)) return std::nullopt;
  if (d == std::floor(d) && std::fabs(d) < 9.2e18) return json(static_cast<std::int64_t>(d));
  return json(d);
}

// How a plain (unquoted) scalar reads, as Kubernetes' YAML parser (go-yaml v2) types it.
json resolve_plain(const std::string& s) {
  if (is_one_of(s, {"", "~", "null", "Null", "NULL"})) return nullptr;
  if (is_one_of(s, {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y"})) return true;
  if (is_one_of(s, {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N"})) return false;
  if (auto number = resolve_number(s)) return std::move(*number);
  return s;
}

// A plain mapping key as it reaches the API server: sigs.k8s.io/yaml writes a key that go-yaml typed
// as a boolean or a number the way Go prints it (`on:` and `y:` become "true", `0777:` "511").
std::string plain_key(const std::string& s) {
  json v = resolve_plain(s);
  if (v.is_boolean() || v.is_number()) return v.dump();
  return s;  // strings, and null (which kubectl refuses as a key)
}

class Converter {
 public:
  explicit Converter(YamlDocument& doc) : doc_(doc) {}

  json convert(const YAML::Node& node, const std::string& ptr, int depth) {
    if (depth > 512) throw YAML::ParserException(node.Mark(), "nesting deeper than 512 levels");
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null: return nullptr;
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
          if (key == "<<" && kv.first.Tag() == "?") {  // a plain `<<`: a merge key
            merge(kv.second, obj, ptr, depth);
            continue;
          }
          if (kv.first.IsScalar() && kv.first.Tag() == "?") key = plain_key(key);
          std::string p = ptr + "/" + pointer::escape(key);
          record(p, kv.first.Mark());
          obj[key] = convert(kv.second, p, depth + 1);
        }
        return obj;
      }
    }
    return nullptr;
  }

 private:
  // `<<: *base` or `<<: [*a, *b]`, as go-yaml v2 applies it: the merged mapping's entries are set
  // where the `<<` stands (a later key of the mapping overrides them), and in a list the earlier
  // mappings win.
  void merge(const YAML::Node& value, json& obj, const std::string& ptr, int depth) {
    std::vector<YAML::Node> sources;
    if (value.IsMap()) {
      sources.push_back(value);
    } else if (value.IsSequence()) {
      for (std::size_t i = value.size(); i-- > 0;) sources.push_back(value[i]);
    }
    if (sources.empty())
      throw YAML::ParserException(value.Mark(), "a merge key (<<) needs a mapping or a list of them");
    for (const YAML::Node& src : sources) {
      if (!src.IsMap()) throw YAML::ParserException(src.Mark(), "a merge key (<<) needs a mapping or a list of them");
      json merged = convert(src, ptr, depth + 1);
      for (auto it = merged.begin(); it != merged.end(); ++it) obj[it.key()] = std::move(it.value());
    }
  }

  void record(const std::string& ptr, const YAML::Mark& m) {
    if (m.line >= 0) doc_.marks.emplace(ptr, Mark{m.line + 1, m.column + 1});
  }
  YamlDocument& doc_;
};

}  // namespace

namespace {

// YAML streams are Unicode; yaml-cpp passes invalid UTF-8 through, and nlohmann::json throws when it
// writes such a string out. Reject it here, with the place, as go-yaml does.
bool valid_utf8(std::string_view text, YamlError& error) {
  int line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = len != 0 && i + len <= text.size();
    std::uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (std::size_t k = 1; ok && k < len; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      ok = (cc >> 6) == 0x2;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // No overlong forms, no surrogates, nothing past U+10FFFF.
    ok = ok && !(len == 2 && cp < 0x80) && !(len == 3 && cp < 0x800) &&
         !(len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) && !(cp >= 0xD800 && cp <= 0xDFFF);
    if (!ok) {
      error.mark = Mark{line, static_cast<int>(i - line_start) + 1};
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", c);
      error.message = std::string("invalid UTF-8 (byte ") + hex + ")";
      return false;
    }
    if (c == '\n') {
      ++line;
      line_start = i + 1;
    }
    i += len;
  }
  return true;
}

}  // namespace

std::optional<std::vector<YamlDocument>> parse_yaml_stream(std::string_view text, YamlError& error) {
  std::vector<YamlDocument> out;
  if (!valid_utf8(text, error)) return std::nullopt;
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
  if (!resolve_plain(s).is_string()) return false;                     // it would read back as another type
  if (s.rfind("---", 0) == 0 || s.rfind("...", 0) == 0) return false;  // document markers
  if (s == "<<") return false;                                         // a merge key
  // "--head" and "-c" may stay plain (a '-' followed by a space starts a sequence entry).
  const bool dash_word = s[0] == '-' && s.size() > 1 && s[1] != ' ' && s[1] != '\t';
  if (!dash_word && std::string_view("-?:,[]{}#&*!|>'\"%@`").find(s[0]) != std::string_view::npos) return false;
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
