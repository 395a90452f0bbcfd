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

TEST_CASE("FastJsonParser: repeated keys in a large object, found by hash") {
  std::string text = "{";
  for (int i = 0; i < 100; ++i) text += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  text += R"("k7":"again","k99":[1],"z":null})";
  Json a = fast(text);
  CHECK(a.dump() == Json::parse(text).dump());
  CHECK(a.size() == 101);
  CHECK(a["k7"] == "again");
}

TEST_CASE("FastJsonParser: skipped members are left out, and nothing else") {
  FastJsonParser p;
  std::string err;
  REQUIRE(p.skip({"/request/object/metadata/managedFields", "/request/object/status", "/a~1b", "/request/big/status"},
                 err));
  std::string big_object = "{";
  for (int i = 0; i < 40; ++i) big_object += (i ? "," : "") + std::string("\"k") + std::to_string(i) + "\":1";
  big_object += R"(,"status":{"x":1}})";
  const std::string text = R"({"request":{"object":{"metadata":{"name":"n","managedFields":[{"manager":"kubectl"}]},)"
                           R"("status":{"state":"ready"},"spec":{"status":1,"metadata":{"managedFields":2}}},)"
                           R"("oldObject":{"status":{"kept":true}},"list":[{"object":{"status":1}}],"big":)" +
                           big_object + R"(},"a/b":1,"a":{"b":2}})";
  Json doc;
  REQUIRE(p.parse(text, doc, err));
  Json expected = Json::parse(text);
  expected["request"]["object"]["metadata"].erase("managedFields");
  expected["request"]["object"].erase("status");
  expected.erase("a/b");
  expected["request"]["big"].erase("status");  // in an object large enough for the hashed path
  CHECK(doc == expected);
  CHECK(doc.dump() == expected.dump());  // same order too

  // Skipped members are still parsed: invalid JSON inside them is an error.
  CHECK_FALSE(p.parse(R"({"request":{"object":{"status":{"x":}}}})", doc, err));
  CHECK_FALSE(p.skip({"no-slash"}, err));
  CHECK_FALSE(p.skip({""}, err));
  REQUIRE(p.skip({}, err));
  REQUIRE(p.parse(text, doc, err));
  CHECK(doc == Json::parse(text));
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

TEST_CASE("FastJsonParser: documents live in the parser's arena, which is reused once they are gone") {
  FastJsonParser p;
  std::string text = R"({"items":[)";
  for (int i = 0; i < 200; ++i)
    text += (i ? "," : "") + std::string(R"({"name":"item-with-a-long-name-)") + std::to_string(i) + R"(","v":[1,2]})";
  text += "]}";
  std::string err;
  Json a, b;
  REQUIRE(p.parse(text, a, err));
  const std::size_t blocks = p.arena_blocks();
  CHECK(blocks > 600);
  REQUIRE(p.parse(text, b, err));  // two documents at once: b gets an arena of its own
  CHECK(p.arena_blocks() == blocks);
  CHECK(a == b);

  // A parsed document is an ordinary Json: changed, copied and moved, its blocks are freed
  // wherever they come from.
  a["items"][0]["name"] = "replaced";
  a["items"].push_back(Json::object({{"new", std::string(40, 'x')}}));
  Json copy = a;
  CHECK(copy == a);
  Json moved = std::move(b);
  CHECK(moved["items"].size() == 200);
  release(a);
  moved = nullptr;
  CHECK(p.arena_blocks() == 0);
  CHECK(copy["items"].size() == 201);  // the copy is on the heap

  // The memory is reused: parsing the same document again and again does not grow the arena,
  // whether the previous document is freed before the next parse or by it.
  Json c;
  REQUIRE(p.parse(text, c, err));
  const std::size_t bytes = p.arena_bytes();
  for (int i = 0; i < 50; ++i) {
    release(c);
    REQUIRE(p.parse(text, c, err));
  }
  CHECK(p.arena_bytes() == bytes);
  for (int i = 0; i < 50; ++i) REQUIRE(p.parse(text, c, err));
  CHECK(p.arena_bytes() == bytes);
  CHECK(p.arena_blocks() == blocks);

  // While an earlier document stays alive, each parse gets memory of its own, and no more.
  Json kept = c;  // a heap copy: does not hold the arena
  Json first;
  REQUIRE(p.parse(text, first, err));
  for (int i = 0; i < 20; ++i) {
    Json next;
    REQUIRE(p.parse(text, next, err));
    CHECK(p.arena_blocks() == blocks);
    CHECK(p.arena_bytes() <= 2 * bytes);
  }
  CHECK(first == kept);
}

TEST_CASE("FastJsonParser: a document may outlive its parser") {
  Json doc;
  {
    FastJsonParser p;
    std::string err;
    REQUIRE(p.parse(R"({"a":["a string longer than fifteen bytes",{"b":null}]})", doc, err));
  }
  CHECK(doc["a"][0] == "a string longer than fifteen bytes");
  doc["a"].push_back(1);
  CHECK(doc.dump() == R"({"a":["a string longer than fifteen bytes",{"b":null},1]})");
}  // the arena goes with the document's last block (AddressSanitizer checks it in CI)

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

TEST_CASE("FastJsonParser::discard: drops the last document without walking it, or falls back to release()") {
  FastJsonParser p;
  std::string err;
  // Long keys and values own heap memory: LeakSanitizer (with ASan in CI) reports one missed.
  const std::string text = R"({"a key longer than fifteen bytes":["a value longer than fifteen bytes",{"b":"short"}],)"
                           R"("c":{"another long key, on the heap":"x"},"n":[1,2.5,true,null]})";
  Json doc;
  REQUIRE(p.parse(text, doc, err));
  const std::size_t bytes = p.arena_bytes();
  p.discard(doc);
  CHECK(doc.is_null());
  CHECK(p.arena_blocks() == 0);
  // The memory is reused, document after document.
  for (int i = 0; i < 20; ++i) {
    REQUIRE(p.parse(text, doc, err));
    CHECK(doc["c"]["another long key, on the heap"] == "x");
    p.discard(doc);
  }
  CHECK(p.arena_bytes() == bytes);
  CHECK(p.arena_blocks() == 0);

  SUBCASE("moved: the move is what gets discarded") {
    REQUIRE(p.parse(text, doc, err));
    Json moved = std::move(doc);
    p.discard(moved);
    CHECK(moved.is_null());
    CHECK(p.arena_blocks() == 0);
  }
  SUBCASE("the moved-from shell: nothing to drop, the moved document stays whole") {
    REQUIRE(p.parse(text, doc, err));
    const std::size_t blocks = p.arena_blocks();
    Json moved = std::move(doc);
    p.discard(doc);
    CHECK(p.arena_blocks() == blocks);
    CHECK(moved["a key longer than fifteen bytes"][0] == "a value longer than fifteen bytes");
    p.discard(moved);  // no longer the parser's last document: released node by node
    CHECK(moved.is_null());
    CHECK(p.arena_blocks() == 0);
  }
  SUBCASE("changed: a node replaced, so the walk frees what the change put on the heap") {
    REQUIRE(p.parse(text, doc, err));
    doc["c"]["another long key, on the heap"] = std::string(100, 'y');
    doc["a key longer than fifteen bytes"][1]["b"] = Json::array({std::string(50, 'z')});
    p.discard(doc);
    CHECK(doc.is_null());
    CHECK(p.arena_blocks() == 0);
  }
  SUBCASE("an older document: a second parse gave it an arena of its own") {
    Json first, second;
    REQUIRE(p.parse(text, first, err));
    REQUIRE(p.parse(text, second, err));
    p.discard(first);
    CHECK(first.is_null());
    CHECK(second["n"].size() == 4);
    p.discard(second);
    CHECK(second.is_null());
    CHECK(p.arena_blocks() == 0);
  }
  SUBCASE("a repeated key replaced a value during the parse: released node by node") {
    REQUIRE(p.parse(R"({"k":"a value longer than fifteen bytes","k":"another long value, the last"})", doc, err));
    CHECK(doc["k"] == "another long value, the last");
    p.discard(doc);
    CHECK(doc.is_null());
    CHECK(p.arena_blocks() == 0);
  }
  SUBCASE("a document with more long strings than the list keeps memory for") {
    std::string many = "[";
    for (int i = 0; i < 20000; ++i) many += (i == 0 ? "\"" : ",\"") + std::string(20, 'a') + std::to_string(i) + "\"";
    many += "]";
    REQUIRE(p.parse(many, doc, err));
    CHECK(doc[19999] == std::string(20, 'a') + "19999");
    p.discard(doc);
    CHECK(p.arena_blocks() == 0);
    REQUIRE(p.parse(text, doc, err));  // and the next document is dropped as usual
    p.discard(doc);
    CHECK(p.arena_blocks() == 0);
  }
  SUBCASE("a document the parser did not build, and a long string at the root") {
    Json other = Json::object({{"a long key for the heap, too", std::string(30, 'v')}});
    p.discard(other);
    CHECK(other.is_null());
    REQUIRE(p.parse(R"("a string root, longer than fifteen bytes")", doc, err));
    p.discard(doc);
    CHECK(doc.is_null());
    CHECK(p.arena_blocks() == 0);
  }
}
