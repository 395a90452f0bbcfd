// json/fast_parse: the simdjson parse builds the same Json as nlohmann's parser, and release()
// frees a document whatever its shape.
#include "json/fast_parse.h"

#include <doctest/doctest.h>

#include <string>

using namespace ray_admission;

namespace {

Json fast(const std::string& text) {
  FastJsonParser p;
  Json out;
  std::string err;
  REQUIRE_MESSAGE(p.parse(text, out, err), err);
  return out;
}

}  // namespace

TEST_CASE("FastJsonParser: the same document, key order and number types as nlohmann") {
  const std::string text =
      R"({"z":1,"a":[true,false,null,-3,18446744073709551615,2.5,"x"],"m":{"k":"a string longer than fifteen bytes",)"
      R"("e":{},"l":[]},"u":"\u00e9\ud83d\ude00"})";
  Json a = fast(text);
  Json b = Json::parse(text);
  CHECK(a == b);
  CHECK(a.dump() == b.dump());  // same key order, same number formatting
  CHECK(a["a"][4].is_number_unsigned());
  CHECK(a["a"][3].get<int>() == -3);
}

TEST_CASE("FastJsonParser: a repeated key keeps its first place and its last value, as nlohmann does") {
  const std::string text = R"({"a":1,"b":2,"a":3})";
  CHECK(fast(text).dump() == Json::parse(text).dump());
}

TEST_CASE("FastJsonParser: invalid JSON and documents over the depth limit are refused") {
  FastJsonParser p(8);
  Json out;
  std::string err;
  CHECK_FALSE(p.parse(R"({"a":)", out, err));
  CHECK_FALSE(err.empty());
  err.clear();
  CHECK_FALSE(p.parse(std::string(9, '[') + std::string(9, ']'), out, err));
  CHECK_FALSE(err.empty());
  CHECK(p.parse(std::string(8, '[') + std::string(8, ']'), out, err));
}

TEST_CASE("release: any document ends up null") {
  Json doc = fast(R"({"a":[1,{"b":"a string longer than fifteen bytes"},[[]]],"c":{"d":{"e":null}}})");
  release(doc);
  CHECK(doc.is_null());

  // Deeper than release()'s own limit: the rest is left to Json's destructor.
  Json deep = fast(std::string(200, '[') + std::string(200, ']'));
  release(deep, 10);
  CHECK(deep.is_null());

  Json scalar = "text";
  release(scalar);
  CHECK(scalar.is_null());
}
