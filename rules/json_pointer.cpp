#include "json_pointer.h"

#include <cctype>
#include <charconv>

namespace ray_admission::pointer {

std::string escape(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
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

std::string unescape(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (std::size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '~' && i + 1 < token.size() && (token[i + 1] == '0' || token[i + 1] == '1')) {
      out += token[i + 1] == '0' ? '~' : '/';
      ++i;
    } else {
      out += token[i];
    }
  }
  return out;
}

std::string child(std::string_view base, std::string_view token) {
  std::string out(base);
  out += '/';
  out += escape(token);
  return out;
}

std::string child(std::string_view base, std::size_t index) {
  std::string out(base);
  out += '/';
  out += std::to_string(index);
  return out;
}

std::vector<std::string> split(std::string_view ptr) {
  std::vector<std::string> out;
  if (ptr.empty()) return out;
  std::size_t pos = 1;  // skip the leading '/'
  while (true) {
    std::size_t next = ptr.find('/', pos);
    out.push_back(unescape(ptr.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos)));
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  return out;
}

namespace {
std::optional<std::size_t> parse_index(std::string_view s) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  std::size_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}
}  // namespace

const Json* resolve(const Json& doc, std::string_view ptr) {
  const Json* cur = &doc;
  if (ptr.empty()) return cur;
  if (ptr.front() != '/') return nullptr;
  for (const std::string& tok : split(ptr)) {
    if (cur->is_object()) {
      auto it = cur->find(tok);
      if (it == cur->end()) return nullptr;
      cur = &*it;
    } else if (cur->is_array()) {
      auto idx = parse_index(tok);
      if (!idx || *idx >= cur->size()) return nullptr;
      cur = &(*cur)[*idx];
    } else {
      return nullptr;
    }
  }
  return cur;
}

std::string to_dotted(std::string_view ptr) {
  std::string out;
  for (const std::string& tok : split(ptr)) {
    if (parse_index(tok)) {
      out += '[' + tok + ']';
      continue;
    }
    bool plain = !tok.empty();
    for (char c : tok) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) plain = false;
    }
    if (plain) {
      if (!out.empty()) out += '.';
      out += tok;
    } else {
      out += "[\"";
      for (char c : tok) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
      }
      out += "\"]";
    }
  }
  return out;
}

}  // namespace ray_admission::pointer
