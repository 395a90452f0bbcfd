#include "write.h"

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace ray_admission {

namespace {

// Length of the valid UTF-8 sequence at the start of `s` (whose first byte is >= 0x80), or 0 when
// it is not one (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
std::size_t utf8_sequence(std::string_view s) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  auto cont = [&](std::size_t i) { return i < s.size() && (byte(i) & 0xC0) == 0x80; };
  const unsigned char b = byte(0);
  if (b >= 0xC2 && b <= 0xDF) return cont(1) ? 2 : 0;
  if (b >= 0xE0 && b <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (b == 0xE0 && byte(1) < 0xA0) return 0;  // overlong
    if (b == 0xED && byte(1) > 0x9F) return 0;  // surrogate
    return 3;
  }
  if (b >= 0xF0 && b <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (b == 0xF0 && byte(1) < 0x90) return 0;  // overlong
    if (b == 0xF4 && byte(1) > 0x8F) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

// Whether any of the eight bytes in `w` needs more than a copy: a control character, '"', '\\',
// or a byte of a multi-byte UTF-8 sequence. Each test is the usual bitwise "is there a byte below
// n / equal to c" over all eight bytes at once; it may answer yes for a word that needs nothing
// (the byte-at-a-time loop then looks), never no for one that does.
bool needs_care(std::uint64_t w) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  auto has_zero = [](std::uint64_t x) { return ((x - kOnes) & ~x & kHigh) != 0; };
  const bool below_space = ((w - kOnes * 0x20) & ~w & kHigh) != 0;
  return (w & kHigh) != 0 || below_space || has_zero(w ^ (kOnes * '"')) || has_zero(w ^ (kOnes * '\\'));
}

// Appends `s` quoted and escaped as nlohmann does. Returns false, having appended nothing, when
// `s` is not valid UTF-8.
bool append_string(std::string& out, std::string_view s) {
  const std::size_t start = out.size();
  out += '"';
  std::size_t run = 0;  // start of the run of characters not yet copied
  auto flush = [&](std::size_t i) {
    out.append(s.data() + run, i - run);
    run = i;
  };
  for (std::size_t i = 0; i < s.size();) {
    if (s.size() - i >= 8) {  // eight plain bytes are skipped at once
      std::uint64_t w;
      std::memcpy(&w, s.data() + i, sizeof w);
      if (!needs_care(w)) {
        i += 8;
        continue;
      }
    }
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      std::size_t n = utf8_sequence(s.substr(i));
      if (n == 0) {
        out.resize(start);
        return false;
      }
      i += n;
      continue;
    }
    if (c >= 0x20 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    flush(i);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        out.append(esc, sizeof esc);
      }
    }
    run = ++i;
  }
  flush(s.size());
  out += '"';
  return true;
}

void append_nlohmann(std::string& out, const Json& v) { out += v.dump(-1, ' ', false, Json::error_handler_t::replace); }

template <typename Int>
void append_integer(std::string& out, Int v) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, v);
  out.append(digits, end);
}

}  // namespace

void append_json(std::string& out, const Json& v) {
  switch (v.type()) {
    case Json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, member] : v.get_ref<const Json::object_t&>()) {
        if (!first) out += ',';
        first = false;
        if (!append_string(out, key)) append_nlohmann(out, Json(key));
        out += ':';
        append_json(out, member);
      }
      out += '}';
      return;
    }
    case Json::value_t::array: {
      out += '[';
      bool first = true;
      for (const Json& element : v.get_ref<const Json::array_t&>()) {
        if (!first) out += ',';
        first = false;
        append_json(out, element);
      }
      out += ']';
      return;
    }
    case Json::value_t::string:
      if (!append_string(out, v.get_ref<const std::string&>())) append_nlohmann(out, v);
      return;
    case Json::value_t::boolean: out += v.get<bool>() ? "true" : "false"; return;
    case Json::value_t::number_integer: append_integer(out, v.get<std::int64_t>()); return;
    case Json::value_t::number_unsigned: append_integer(out, v.get<std::uint64_t>()); return;
    case Json::value_t::null: out += "null"; return;
    case Json::value_t::number_float:
    case Json::value_t::binary:
    case Json::value_t::discarded: append_nlohmann(out, v); return;
  }
}

void append_json_string(std::string& out, std::string_view s) {
  if (!append_string(out, s)) append_nlohmann(out, Json(s));
}

namespace {

// About the length of `v` as JSON text, from its strings and node count: enough, in the common
// case, for to_json_text to allocate its result once. Containers are walked `depth` levels down.
std::size_t text_size_hint(const Json& v, int depth) {
  switch (v.type()) {
    case Json::value_t::object: {
      std::size_t n = 2;
      for (const auto& [key, member] : v.get_ref<const Json::object_t&>()) {
        n += key.size() + 4 + (depth > 0 ? text_size_hint(member, depth - 1) : 16);
      }
      return n;
    }
    case Json::value_t::array: {
      std::size_t n = 2;
      for (const Json& element : v.get_ref<const Json::array_t&>()) {
        n += 1 + (depth > 0 ? text_size_hint(element, depth - 1) : 16);
      }
      return n;
    }
    case Json::value_t::string: return v.get_ref<const std::string&>().size() + 8;
    default: return 24;
  }
}

}  // namespace

std::string to_json_text(const Json& value) {
  std::string out;
  // Responses are a few small nodes and one long string (the patch): the hint sizes them exactly
  // enough; deeper nodes are guessed, and the string grows as usual past the guess.
  out.reserve(text_size_hint(value, 4));
  append_json(out, value);
  return out;
}

std::string patch_text(const Patch& patch) {
  std::string out;
  out.reserve(128 * patch.size() + 2);
  out += '[';
  for (const PatchOp& op : patch) {
    if (out.size() > 1) out += ',';
    out += "{\"op\":";
    append_json_string(out, op.op);
    out += ",\"path\":";
    append_json_string(out, op.path);
    if (op.op == "move" || op.op == "copy") {
      out += ",\"from\":";
      append_json_string(out, op.from);
    } else if (op.op != "remove") {
      out += ",\"value\":";
      append_json(out, op.value);
    }
    out += '}';
  }
  out += ']';
  return out;
}

}  // namespace ray_admission
