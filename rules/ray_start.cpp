#include "ray_start.h"

#include "json_pointer.h"

#include <algorithm>
#include <array>

namespace ray_admission {

namespace {

constexpr char kOperatorMark = '\0';

bool is_operator(const std::string& w) { return !w.empty() && w[0] == kOperatorMark; }

// `ray start` flags that never take a value; any other flag may consume the next word.
constexpr std::array<std::string_view, 8> kBooleanFlags = {
    "head",       "block",   "disable-usage-stats",          "no-redirect-output",
    "no-monitor", "verbose", "enable-object-reconstruction", "include-log-monitor"};

bool is_boolean_flag(std::string_view name) {
  return std::find(kBooleanFlags.begin(), kBooleanFlags.end(), name) != kBooleanFlags.end();
}

bool is_ray_program(std::string_view w) {
  if (w == "ray") return true;
  return w.size() > 4 && w.substr(w.size() - 4) == "/ray";
}

// Reads the flags after the `ray start` that begins at words[i].
RayStart read_flags(const std::vector<std::string>& words, std::size_t i, std::string pointer) {
  RayStart rs;
  rs.pointer = std::move(pointer);
  for (i += 2; i < words.size() && !is_operator(words[i]); ++i) {
    const std::string& w = words[i];
    if (w.size() < 3 || w[0] != '-' || w[1] != '-') continue;  // a stray positional word
    RayStartFlag flag;
    std::string_view body = std::string_view(w).substr(2);
    std::size_t eq = body.find('=');
    flag.name = std::string(body.substr(0, eq));
    std::replace(flag.name.begin(), flag.name.end(), '_', '-');
    if (eq != std::string_view::npos) {
      flag.value = std::string(body.substr(eq + 1));
      flag.has_value = true;
    } else if (!is_boolean_flag(flag.name) && i + 1 < words.size() && !is_operator(words[i + 1]) &&
               words[i + 1].rfind("--", 0) != 0) {
      flag.value = words[++i];
      flag.has_value = true;
    }
    if (flag.name == "head") rs.head = true;
    rs.flags.push_back(std::move(flag));
  }
  return rs;
}

// Where `ray start` begins in `words`.
std::optional<std::size_t> find_start(const std::vector<std::string>& words) {
  for (std::size_t i = 0; i + 1 < words.size(); ++i) {
    if (is_ray_program(words[i]) && words[i + 1] == "start") return i;
  }
  return std::nullopt;
}

}  // namespace

const RayStartFlag* RayStart::find(std::string_view name) const {
  // The last occurrence wins, as with click's option parsing.
  for (auto it = flags.rbegin(); it != flags.rend(); ++it) {
    if (it->name == name) return &*it;
  }
  return nullptr;
}

std::vector<std::string> shell_words(std::string_view s) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  auto flush = [&] {
    if (in_word) words.push_back(std::move(cur));
    cur.clear();
    in_word = false;
  };
  auto op = [&](std::string_view text) {
    flush();
    words.push_back(std::string(1, kOperatorMark) + std::string(text));
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\') {
      if (i + 1 < s.size() && s[i + 1] == '\n') {
        ++i;  // line continuation
      } else if (i + 1 < s.size()) {
        cur += s[++i];
        in_word = true;
      }
    } else if (c == '\'') {
      in_word = true;
      for (++i; i < s.size() && s[i] != '\''; ++i) cur += s[i];
    } else if (c == '"') {
      in_word = true;
      for (++i; i < s.size() && s[i] != '"'; ++i) {
        if (s[i] == '\\' && i + 1 < s.size() &&
            (s[i + 1] == '"' || s[i + 1] == '\\' || s[i + 1] == '$' || s[i + 1] == '`')) {
          ++i;
        }
        cur += s[i];
      }
    } else if (c == ' ' || c == '\t' || c == '\r') {
      flush();
    } else if (c == '\n' || c == ';') {
      op(std::string_view(&c, 1));
    } else if (c == '&' || c == '|') {
      if (i + 1 < s.size() && s[i + 1] == c) {
        op(s.substr(i, 2));
        ++i;
      } else {
        op(std::string_view(&c, 1));
      }
    } else if (c == '#' && !in_word) {
      while (i + 1 < s.size() && s[i + 1] != '\n') ++i;  // comment to end of line
    } else {
      cur += c;
      in_word = true;
    }
  }
  flush();
  return words;
}

std::optional<RayStart> find_ray_start(const Json& container, std::string_view container_ptr) {
  if (!container.is_object()) return std::nullopt;
  // argv as the kubelet builds it: command then args, with each word's pointer.
  std::vector<std::string> argv;
  std::vector<std::string> ptrs;
  for (const char* field : {"command", "args"}) {
    auto it = container.find(field);
    if (it == container.end() || !it->is_array()) continue;
    for (std::size_t k = 0; k < it->size(); ++k) {
      if (!(*it)[k].is_string()) continue;
      argv.push_back((*it)[k].get<std::string>());
      ptrs.push_back(pointer::child(pointer::child(container_ptr, field), k));
    }
  }
  if (argv.empty()) return std::nullopt;
  // The pointer is that of the word `ray` (the script that holds it, for a shell script).
  if (auto i = find_start(argv)) return read_flags(argv, *i, ptrs[*i]);
  // A word that is itself a script: `bash -c "ray start ..."`, or args: ["ray start --head ..."].
  for (std::size_t k = 0; k < argv.size(); ++k) {
    if (argv[k].find("start") == std::string::npos) continue;
    std::vector<std::string> words = shell_words(argv[k]);
    if (auto i = find_start(words)) return read_flags(words, *i, ptrs[k]);
  }
  return std::nullopt;
}

}  // namespace ray_admission
