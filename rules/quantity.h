// Kubernetes resource quantities ("500m", "4Gi", "1e3", "0.5"), compared exactly.
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>

namespace ray_admission {

// A quantity held as an exact count of nano-units (10^-9), so that 1 == 1000m and
// 4Gi == 4096Mi compare equal without floating point. Precision below a nano-unit is rounded up,
// as Kubernetes does.
class Quantity {
 public:
  // Accepts the Kubernetes grammar: a signed decimal number, then one of the binary suffixes
  // Ki Mi Gi Ti Pi Ei, the decimal suffixes n u m k M G T P E, or an exponent e<N>/E<N>.
  static std::optional<Quantity> parse(std::string_view text);
  static Quantity from_integer(long long units);

  bool is_integer() const;  // a whole number of units
  bool is_negative() const { return nanos_ < 0; }
  // The whole number of units, when the quantity is one and fits.
  std::optional<long long> to_integer() const;
  double to_double() const;
  std::string to_string() const;  // plain decimal: "57982058496", "0.5"

  auto operator<=>(const Quantity&) const = default;

 private:
  explicit Quantity(__int128 nanos) : nanos_(nanos) {}
  __int128 nanos_ = 0;
};

}  // namespace ray_admission
