#include "quantity.h"

#include <cctype>
#include <cstdint>

namespace ray_admission {

namespace {

constexpr __int128 kNano = 1'000'000'000;
// Far beyond any real quantity (about 1.7e38 fits in __int128) but safe to multiply by 10^9 once.
constexpr __int128 kLimit = static_cast<__int128>(1) << 120;

struct Suffix {
  std::string_view text;
  int base;  // 2 or 10
  int exponent;
};

constexpr Suffix kSuffixes[] = {
    {"Ki", 2, 10}, {"Mi", 2, 20}, {"Gi", 2, 30}, {"Ti", 2, 40}, {"Pi", 2, 50}, {"Ei", 2, 60},
    {"n", 10, -9}, {"u", 10, -6}, {"m", 10, -3}, {"k", 10, 3},  {"M", 10, 6},  {"G", 10, 9},
    {"T", 10, 12}, {"P", 10, 15}, {"E", 10, 18},
};

}  // namespace

std::optional<Quantity> Quantity::parse(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::size_t i = 0;
  bool negative = false;
  if (s[i] == '+' || s[i] == '-') {
    negative = s[i] == '-';
    ++i;
  }
  // Digits, with at most one '.', and at least one digit.
  __int128 mantissa = 0;  // all digits as one integer
  int frac_digits = 0;
  bool seen_dot = false;
  bool seen_digit = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '.' && !seen_dot) {
      seen_dot = true;
      continue;
    }
    if (!std::isdigit(static_cast<unsigned char>(c))) break;
    seen_digit = true;
    if (mantissa > kLimit) return std::nullopt;
    mantissa = mantissa * 10 + (c - '0');
    if (seen_dot) ++frac_digits;
  }
  if (!seen_digit) return std::nullopt;

  std::string_view rest = s.substr(i);
  int base = 10;
  int exponent = 0;
  if (!rest.empty()) {
    bool matched = false;
    for (const Suffix& suf : kSuffixes) {
      if (rest == suf.text) {
        base = suf.base;
        exponent = suf.exponent;
        matched = true;
        break;
      }
    }
    if (!matched) {
      if (rest[0] != 'e' && rest[0] != 'E') return std::nullopt;
      std::string_view digits = rest.substr(1);
      bool neg_exp = false;
      if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) {
        neg_exp = digits[0] == '-';
        digits.remove_prefix(1);
      }
      if (digits.empty() || digits.size() > 3) return std::nullopt;
      int e = 0;
      for (char c : digits) {
        if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
        e = e * 10 + (c - '0');
      }
      exponent = neg_exp ? -e : e;
    }
  }

  // value = mantissa * 10^-frac_digits * base^exponent, in nano-units.
  __int128 num = mantissa;
  __int128 den = 1;
  for (int k = 0; k < frac_digits; ++k) den *= 10;
  num *= kNano;
  if (num / kNano != mantissa) return std::nullopt;
  if (base == 2) {
    for (int k = 0; k < exponent; ++k) {
      num *= 2;
      if (num > kLimit * 64) return std::nullopt;
    }
  } else if (exponent >= 0) {
    for (int k = 0; k < exponent; ++k) {
      num *= 10;
      if (num > kLimit * 64) return std::nullopt;
    }
  } else {
    for (int k = 0; k < -exponent; ++k) {
      if (den > kLimit) return std::nullopt;
      den *= 10;
    }
  }
  __int128 nanos = num / den;
  if (num % den != 0) ++nanos;  // round up, as Kubernetes does
  return Quantity(negative ? -nanos : nanos);
}

Quantity Quantity::from_integer(long long units) { return Quantity(static_cast<__int128>(units) * kNano); }

bool Quantity::is_integer() const { return nanos_ % kNano == 0; }

std::optional<long long> Quantity::to_integer() const {
  if (!is_integer()) return std::nullopt;
  __int128 units = nanos_ / kNano;
  if (units > INT64_MAX || units < INT64_MIN) return std::nullopt;
  return static_cast<long long>(units);
}

double Quantity::to_double() const { return static_cast<double>(nanos_) / 1e9; }

std::string Quantity::to_string() const {
  __int128 v = nanos_ < 0 ? -nanos_ : nanos_;
  __int128 whole = v / kNano;
  __int128 frac = v % kNano;
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(whole % 10)));
    whole /= 10;
  } while (whole > 0);
  if (nanos_ < 0) digits.insert(digits.begin(), '-');
  if (frac != 0) {
    std::string f(9, '0');
    for (int k = 8; k >= 0; --k) {
      f[static_cast<std::size_t>(k)] = static_cast<char>('0' + static_cast<int>(frac % 10));
      frac /= 10;
    }
    while (!f.empty() && f.back() == '0') f.pop_back();
    digits += '.' + f;
  }
  return digits;
}

}  // namespace ray_admission
