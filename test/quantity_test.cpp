// rules/quantity: Kubernetes resource quantities, compared exactly.
#include "rules/quantity.h"

#include <doctest/doctest.h>

#include <string>

using ray_admission::Quantity;

namespace {

Quantity q(const char* s) {
  auto v = Quantity::parse(s);
  REQUIRE_MESSAGE(v.has_value(), "does not parse: " << s);
  return *v;
}

}  // namespace

TEST_CASE("equal quantities in different spellings compare equal") {
  CHECK(q("1") == q("1000m"));
  CHECK(q("4Gi") == q("4096Mi"));
  CHECK(q("1Gi") == q("1073741824"));
  CHECK(q("1e3") == q("1000"));
  CHECK(q("1E3") == q("1k"));
  CHECK(q("0.5") == q("500m"));
  CHECK(q(".5") == q("500m"));
  CHECK(q("1.") == q("1"));
  CHECK(q("1M") == q("1000k"));
  CHECK(q("1Ki") == q("1024"));
  CHECK(q("1Ei") == q("1024Pi"));
  CHECK(q("2e-3") == q("2m"));
  CHECK(q("1000000n") == q("1m"));
  CHECK(q("1000u") == q("1m"));
  CHECK(q("+1") == q("1"));
  CHECK(q("0") == q("-0"));
  CHECK(q("0") == q("0Gi"));
  CHECK(q("1.5Gi") == q("1536Mi"));
}

TEST_CASE("ordering") {
  CHECK(q("500m") < q("1"));
  CHECK(q("2Gi") < q("5Gi"));
  CHECK(q("1G") < q("1Gi"));  // 10^9 < 2^30
  CHECK(q("-1") < q("0"));
  CHECK(q("1001m") > q("1"));
  CHECK(q("4Gi") != q("4G"));
}

TEST_CASE("integers and conversion") {
  CHECK(q("4").is_integer());
  CHECK(q("4000m").is_integer());
  CHECK(!q("1500m").is_integer());
  CHECK(!q("0.5").is_integer());
  CHECK(q("54Gi").to_integer() == 57982058496LL);
  CHECK(q("1500m").to_integer() == std::nullopt);
  CHECK(q("-2").to_integer() == -2);
  CHECK(q("-2").is_negative());
  CHECK(!q("0").is_negative());
  CHECK(q("54Gi").to_string() == "57982058496");
  CHECK(q("0.5").to_string() == "0.5");
  CHECK(q("1500m").to_string() == "1.5");
  CHECK(q("-250m").to_string() == "-0.25");
  CHECK(q("1n").to_string() == "0.000000001");
  CHECK(q("0.5").to_double() == doctest::Approx(0.5));
  CHECK(Quantity::from_integer(3) == q("3000m"));
  CHECK(Quantity::from_integer(-1) == q("-1"));
}

TEST_CASE("precision below a nano-unit rounds up, as Kubernetes does") {
  CHECK(q("0.0000000001") == q("1n"));
  CHECK(q("1.0000000001") == q("1000000001n"));
  CHECK(q("0.1n") == q("1n"));
}

TEST_CASE("bad inputs do not parse") {
  for (const char* bad : {"",       " ",
                          "1 ",     " 1",
                          "abc",    "1Gb",
                          "1gi",    "1GiB",
                          "1.2.3",  ".",
                          "+",      "-",
                          "1e",     "1e+",
                          "1e1.5",  "e3",
                          "Gi",     "1 Gi",
                          "1,5",    "0x10",
                          "1KI",    "1mi",
                          "--1",    "1e1000",
                          "1e9999", "99999999999999999999999999999999999999999999999Ei",
                          "１"}) {
    INFO("input: [" << bad << "]");
    CHECK(!Quantity::parse(bad).has_value());
  }
}

TEST_CASE("large but valid quantities") {
  CHECK(q("8Ei") == q("8192Pi"));
  CHECK(q("9223372036854775807").to_integer() == 9223372036854775807LL);
  CHECK(q("100Ei").to_integer() == std::nullopt);  // beyond int64
  CHECK(q("100Ei") > q("8Ei"));
}
