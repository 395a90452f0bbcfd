#include "json_pointer.h"

#include <algorithm>
#include <charconv>

namespace ray_admission::pointer {

namespace {

// Calls fn(token) for each reference token of `ptr`, unescaped. Tokens without '~' (nearly all)
// are passed as views into `ptr`, so walking a pointer allocates nothing. Stops early when fn
// returns false, and returns false then.
template <typename Fn>
bool for_each_token(std::string_view ptr, Fn fn) {
  if (ptr.empty()) return true;
  std::size_t pos = 1;  // skip the leading '/'
  while (true) {
    std::size_t next = ptr.find('/', pos);
    std::string_view raw = ptr.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos);
    bool go = raw.find('~') == std::string_view::npos ? fn(raw) : fn(std::string_view(unescape(raw)));
    if (!go) return false;
    if (next == std::string_view::npos) return true;
    pos = next + 1;
  }
}

}  // namespace

std::string escape(std::string_view token) {
  if (token.find_first_of("~/") == std::string_view::npos) return std::string(token);
  std::string out;
  out.reserve(token.size() + 2);
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
  std::string out;
  out.reserve(base.size() + 1 + token.size());
  out += base;
  out += '/';
  if (token.find_first_of("~/") == std::string_view::npos) {
    out += token;
  } else {
    out += escape(token);
  }
  return out;
}

std::string child(std::string_view base, std::size_t index) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, index);
  std::string out;
  out.reserve(base.size() + 1 + static_cast<std::size_t>(end - digits));
  out += base;
  out += '/';
  out.append(digits, end);
  return out;
}

std::vector<std::string> split(std::string_view ptr) {
  std::vector<std::string> out;
  for_each_token(ptr, [&](std::string_view tok) {
    out.emplace_back(tok);
    return true;
  });
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
  bool found = for_each_token(ptr, [&](std::string_view tok) {
    if (cur->is_object()) {
      auto it = cur->find(tok);
      if (it == cur->end()) return false;
      cur = &*it;
    } else if (cur->is_array()) {
      auto idx = parse_index(tok);
      if (!idx || *idx >= cur->size()) return false;
      cur = &(*cur)[*idx];
    } else {
      return false;
    }
    return true;
  });
  return found ? cur : nullptr;
}

std::string to_dotted(std::string_view ptr) {
  std::string out;
  out.reserve(ptr.size() + 8);
  for_each_token(ptr, [&](std::string_view tok) {
    if (parse_index(tok)) {
      out += '[';
      out += tok;
      out += ']';
      return true;
    }
    auto identifier_char = [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    };
    const bool plain = !tok.empty() && std::all_of(tok.begin(), tok.end(), identifier_char);
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
    return true;
  });
  return out;
}

}  // namespace ray_admission::pointer
