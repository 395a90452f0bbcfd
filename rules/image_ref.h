// Reading container image references for the rules about Ray images: the repository's last path
// part, the tag, the Ray version a tag starts with and the Python version it names.
// Header-only: a few small pure functions shared by ray-image-version and ray-image-consistency.
#pragma once

#include <cctype>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ray_admission::image {

// `[host[:port]/]path[:tag][@digest]`, split. Nothing is validated beyond what the split needs.
// The parts are views into the text given to parse(), which must outlive them.
struct Ref {
  std::string_view repository;  // everything before the tag and the digest
  std::string_view name;        // the repository's last path part: "ray-ml" for rayproject/ray-ml
  std::string_view tag;         // "" when there is none
  bool has_digest = false;
};

inline Ref parse(std::string_view image) {
  Ref r;
  if (auto at = image.find('@'); at != std::string_view::npos) {
    r.has_digest = true;
    image = image.substr(0, at);
  }
  std::size_t slash = image.rfind('/');
  std::size_t colon = image.rfind(':');
  // A colon before the last slash belongs to the registry host's port, not to a tag.
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    r.tag = image.substr(colon + 1);
    image = image.substr(0, colon);
  }
  r.repository = image;
  r.name = slash == std::string_view::npos ? image : image.substr(slash + 1);
  return r;
}

// True for the images Ray publishes (rayproject/ray, rayproject/ray-ml, rayproject/ray-llm) and
// their mirrors under any registry: their tags state the Ray version. Other images are the user's
// own, whose tags follow the user's own versioning.
inline bool is_ray_release_image(const Ref& r) { return r.name == "ray" || r.name == "ray-ml" || r.name == "ray-llm"; }

// A dotted version of two or three numbers: 2.9 or 2.9.0.
class Version {
 public:
  std::size_t size() const { return count_; }
  unsigned long operator[](std::size_t k) const { return parts_[k]; }
  void push_back(unsigned long part) { parts_[count_++] = part; }  // at most three

 private:
  unsigned long parts_[3] = {};
  std::size_t count_ = 0;
};

// The version a text starts with: "2.3.0-py310-gpu" -> 2.3.0, "2.46.0.0e19ea-py39" -> 2.46.0,
// "2.9" -> 2.9. At most three numbers are read; nullopt when fewer than two lead the text.
inline std::optional<Version> leading_version(std::string_view s) {
  Version v;
  std::size_t i = 0;
  while (v.size() < 3) {
    std::size_t start = i;
    unsigned long n = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) != 0 && i - start < 9) {
      n = n * 10 + static_cast<unsigned long>(s[i] - '0');
      ++i;
    }
    if (i == start) break;                                                                         // no digits here
    if (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) != 0) return std::nullopt;  // absurdly long
    v.push_back(n);
    if (i + 1 < s.size() && s[i] == '.' && std::isdigit(static_cast<unsigned char>(s[i + 1])) != 0) {
      ++i;
      continue;
    }
    break;
  }
  if (v.size() < 2) return std::nullopt;
  return v;
}

inline std::string to_string(const Version& v) {
  std::string out;
  for (std::size_t k = 0; k < v.size(); ++k) {
    if (k != 0) out += '.';
    out += std::to_string(v[k]);
  }
  return out;
}

// Two versions agree on every part both of them give: 2.9 matches 2.9.0 and 2.9.3; 2.9.0 does
// not match 2.9.3, and 2.1 does not match 2.10.
inline bool prefix_match(const Version& a, const Version& b) {
  for (std::size_t k = 0; k < a.size() && k < b.size(); ++k) {
    if (a[k] != b[k]) return false;
  }
  return true;
}

// The version with missing parts read as 0: 2.9 -> 2.9.0.
inline Version padded(Version v) {
  while (v.size() < 3) v.push_back(0);
  return v;
}

// The tag's words, split at '-', '.', '_' and '+'.
inline std::vector<std::string_view> tag_words(std::string_view tag) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= tag.size(); ++i) {
    if (i == tag.size() || tag[i] == '-' || tag[i] == '.' || tag[i] == '_' || tag[i] == '+') {
      if (i > start) out.push_back(tag.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

// The Python version a `-pyXY` part of the tag names: "2.9.0-py310-gpu" -> "3.10"; nullopt when the
// tag names none (the image then has its default Python).
inline std::optional<std::string> python_version(std::string_view tag) {
  std::size_t start = 0;
  for (std::size_t i = 0; i <= tag.size(); ++i) {
    if (i != tag.size() && tag[i] != '-') continue;
    std::string_view part = tag.substr(start, i - start);
    start = i + 1;
    if (part.size() < 4 || part.size() > 5 || part.substr(0, 2) != "py") continue;
    std::string_view digits = part.substr(2);
    bool all_digits = true;
    for (char c : digits) all_digits = all_digits && std::isdigit(static_cast<unsigned char>(c)) != 0;
    if (!all_digits) continue;
    return std::string(digits.substr(0, 1)) + "." + std::string(digits.substr(1));
  }
  return std::nullopt;
}

// A nightly or development build: a tag word "nightly", "dev" or "devN", or a short commit hash
// (six hexadecimal characters with a digit among them, as in rayproject/ray:1a2b3c-py310).
inline bool is_dev_tag(std::string_view tag) {
  for (std::string_view w : tag_words(tag)) {
    if (w == "nightly" || w == "dev") return true;
    if (w.size() > 3 && w.substr(0, 3) == "dev") {
      bool digits = true;
      for (char c : w.substr(3)) digits = digits && std::isdigit(static_cast<unsigned char>(c)) != 0;
      if (digits) return true;
    }
  }
  std::string_view first = tag.substr(0, tag.find('-'));
  if (first.size() == 6) {
    bool hex = true, digit = false;
    for (char c : first) {
      hex = hex && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
      digit = digit || (c >= '0' && c <= '9');
    }
    if (hex && digit) return true;
  }
  return false;
}

}  // namespace ray_admission::image
