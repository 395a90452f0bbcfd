#include "json/write.h"

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>

using namespace ray_admission;

namespace {
std::string nlohmann_text(const Json& v) { return v.dump(-1, ' ', false, Json::error_handler_t::replace); }
}  // namespace

TEST_CASE("json write: the same bytes as nlohmann's dump") {
  const std::vector<std::string> strings = {
      "",
      "plain",
      "quote \" backslash \\ slash /",
      "controls \b\f\n\r\t \x01 \x1f \x7f",
      std::string("nul \0 inside", 12),
      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",  // 2-, 3- and 4-byte sequences
      "bad \xff byte",
      "cut \xe2\x82",  // truncated sequence at the end
      "overlong \xc0\xaf \xe0\x80\xaf",
      "surrogate \xed\xa0\x80",
      "too high \xf4\x90\x80\x80",
      "lone continuation \x80 here",
  };
  for (const std::string& s : strings) {
    INFO(nlohmann_text(Json(s)));
    CHECK(to_json_text(Json(s)) == nlohmann_text(Json(s)));
    Json keyed = Json::object();
    keyed[s] = s;
    CHECK(to_json_text(keyed) == nlohmann_text(keyed));
  }
  Json mixed = Json::parse(R"({"a":[1,-2,18446744073709551615,-9223372036854775808,0.5,1e300,1.0,-0.0,true,false,null],
                               "b":{},"c":[],"d":{"e":[{"f":"g"}]}})");
  mixed["nan"] = std::nan("");
  CHECK(to_json_text(mixed) == nlohmann_text(mixed));
}

TEST_CASE("json write: a byte that needs escaping is found wherever it is in a long string") {
  // Strings are scanned eight bytes at a time: each kind of byte at every position of a
  // 20-byte string, including the last bytes, which are not a whole word.
  const std::string kinds[] = {"\"", "\\", std::string(1, '\0'), "\x1f", "\n", "\xc3\xa9", "\xff", " ", "\x7f", "~"};
  for (const std::string& kind : kinds) {
    for (std::size_t at = 0; at < 20; ++at) {
      std::string s(20, 'a');
      s.replace(at, 1, kind);
      INFO(nlohmann_text(Json(s)));
      CHECK(to_json_text(Json(s)) == nlohmann_text(Json(s)));
    }
  }
}

TEST_CASE("json write: random bytes and values agree with nlohmann") {
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> len(0, 24), byte(0, 255), pick(0, 9);
  for (int round = 0; round < 3000; ++round) {
    Json arr = Json::array();
    for (int k = 0; k < 4; ++k) {
      std::string s;
      int n = len(rng);
      for (int i = 0; i < n; ++i) {
        int p = pick(rng);
        // Mostly ASCII, some UTF-8 lead and continuation bytes, a few controls.
        s += static_cast<char>(p < 6 ? 32 + byte(rng) % 95 : p < 9 ? 0x80 + byte(rng) % 0x78 : byte(rng) % 32);
      }
      arr.push_back(s);
    }
    REQUIRE(to_json_text(arr) == nlohmann_text(arr));
  }
}

TEST_CASE("json write: patch text is patch_to_json's text") {
  Patch p = {PatchOp{"add", "/a/b~1c", "", Json::parse(R"({"x":[1,"y\n"]})")}, PatchOp{"move", "/d", "/e", {}},
             PatchOp{"remove", "/f", "", {}}, PatchOp{"replace", "/g", "", "caf\xc3\xa9"}};
  CHECK(patch_text(p) == nlohmann_text(patch_to_json(p)));
  CHECK(patch_text({}) == "[]");
}
