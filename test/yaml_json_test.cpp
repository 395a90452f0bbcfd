// yaml/yaml_json: YAML typed as kubectl reads it (sigs.k8s.io/yaml over go-yaml v2), line marks,
// and to_yaml's output reading back to the same value.
#include "yaml/yaml_json.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace ray_admission;
using json = ray_admission::Json;

namespace {

std::vector<YamlDocument> parse(const std::string& text) {
  YamlError err;
  auto docs = parse_yaml_stream(text, err);
  REQUIRE_MESSAGE(docs.has_value(), err.mark.line << ":" << err.mark.column << ": " << err.message);
  return std::move(*docs);
}

json value_of(const std::string& text) {
  auto docs = parse(text);
  REQUIRE(docs.size() == 1);
  return docs[0].value;
}

// The value of `v: <scalar>`.
json scalar(const std::string& s) { return value_of("v: " + s + "\n")["v"]; }

json round_trip(const json& v) {
  std::string text = to_yaml(v);
  YamlError err;
  auto docs = parse_yaml_stream(text, err);
  REQUIRE_MESSAGE(docs.has_value(), "to_yaml wrote YAML that does not parse:\n" << text << err.message);
  REQUIRE(docs->size() == 1);
  return (*docs)[0].value;
}

}  // namespace

TEST_CASE("plain scalars are typed, quoted ones are strings") {
  CHECK(scalar("1") == json(1));
  CHECK(scalar("\"1\"") == json("1"));
  CHECK(scalar("'1'") == json("1"));
  CHECK(scalar("-42") == json(-42));
  CHECK(scalar("+7") == json(7));
  CHECK(scalar("0") == json(0));
  CHECK(scalar("1.5") == json(1.5));
  CHECK(scalar("\"1.5\"") == json("1.5"));
  CHECK(scalar(".5") == json(0.5));
  CHECK(scalar("1e3") == json(1000));
  CHECK(scalar("\"1e3\"") == json("1e3"));
  CHECK(scalar("true") == json(true));
  CHECK(scalar("\"true\"") == json("true"));
  CHECK(scalar("False") == json(false));
  CHECK(scalar("null").is_null());
  CHECK(scalar("~").is_null());
  CHECK(scalar("").is_null());
  CHECK(scalar("\"\"") == json(""));
  CHECK(scalar("'null'") == json("null"));
  CHECK(scalar("!!str 12") == json("12"));
  CHECK(scalar("hello") == json("hello"));
  CHECK(scalar("2Gi") == json("2Gi"));
  CHECK(scalar("500m") == json("500m"));
}

TEST_CASE("YAML 1.1 booleans, as Kubernetes' parser reads them") {
  for (const char* t : {"yes", "Yes", "YES", "on", "On", "ON", "y", "Y", "true", "True", "TRUE"}) {
    INFO(t);
    CHECK(scalar(t) == json(true));
    CHECK(scalar(std::string("\"") + t + "\"") == json(t));
  }
  for (const char* f : {"no", "No", "NO", "off", "Off", "OFF", "n", "N", "false", "False", "FALSE"}) {
    INFO(f);
    CHECK(scalar(f) == json(false));
    CHECK(scalar(std::string("'") + f + "'") == json(f));
  }
  CHECK(scalar("yess") == json("yess"));
  CHECK(scalar("oN") == json("oN"));
}

TEST_CASE("integers as Go's ParseInt(s, 0, 64) reads them after go-yaml drops underscores") {
  CHECK(scalar("0777") == json(511));  // octal: `defaultMode: 0777` in KubeRay's samples
  CHECK(scalar("0644") == json(420));
  CHECK(scalar("0o17") == json(15));
  CHECK(scalar("0x1F") == json(31));
  CHECK(scalar("-0x10") == json(-16));
  CHECK(scalar("0b101") == json(5));
  CHECK(scalar("1_000") == json(1000));
  CHECK(scalar("00") == json(0));
  CHECK(scalar("9223372036854775807") == json(INT64_MAX));
  CHECK(scalar("18446744073709551615") == json(UINT64_MAX));
  // Not integers: 08 is no octal number, but it is a float for go-yaml.
  CHECK(scalar("08") == json(8));
  CHECK(scalar("1:30") == json("1:30"));              // no sexagesimal
  CHECK(scalar("2024-01-01") == json("2024-01-01"));  // timestamps stay strings
  CHECK(scalar("1.2.3") == json("1.2.3"));
  CHECK(scalar("0x") == json("0x"));
  CHECK(scalar("0b102") == json("0b102"));
  CHECK(scalar("v1") == json("v1"));
  CHECK(scalar("1e") == json("1e"));
  CHECK(scalar(".") == json("."));
  CHECK(scalar("-x") == json("-x"));
  CHECK(scalar("+") == json("+"));
}

TEST_CASE("long scalars") {
  const std::string digits(300000, '1');
  CHECK(scalar("1." + digits).is_number_float());
  CHECK(scalar(digits + "x") == json(digits + "x"));
  CHECK(scalar("1e" + digits) == json("1e" + digits));  // out of range: a string, as for go-yaml
}

TEST_CASE("whole floats are integers, as in the JSON kubectl sends") {
  CHECK(scalar("2.0") == json(2));
  CHECK(scalar("2.0").is_number_integer());
  CHECK(scalar("1e3").is_number_integer());
  CHECK(scalar("-0.0").is_number_integer());
  CHECK(scalar("1.5").is_number_float());
  CHECK(scalar("1e300").is_number_float());  // beyond int64: stays a float
}

TEST_CASE("structure: maps keep their order, sequences, nesting, anchors") {
  json v = value_of("b: 1\na:\n  - x\n  - {k: v}\n  - [1, 2]\nc: {}\nd: []\n");
  CHECK(v.dump() == R"({"b":1,"a":["x",{"k":"v"},[1,2]],"c":{},"d":[]})");
  json anchors = value_of("base: &b {x: 1}\nother: *b\n");
  CHECK(anchors["other"] == json({{"x", 1}}));
  json literal = value_of("s: |\n  line 1\n  line 2\nf: >-\n  folded\n  text\n");
  CHECK(literal["s"] == json("line 1\nline 2\n"));
  CHECK(literal["f"] == json("folded text"));
}

TEST_CASE("merge keys, as go-yaml applies them") {
  json v = value_of("base: &b {x: 1, z: 2}\nd:\n  <<: *b\n  z: 3\n");
  CHECK(v["d"]["x"] == json(1));
  CHECK(v["d"]["z"] == json(3));  // the mapping's own key wins
  CHECK(!v["d"].contains("<<"));
  json list = value_of("a: &a {p: 1}\nb: &b {p: 2, q: 2}\nc:\n  <<: [*a, *b]\n");
  CHECK(list["c"] == json({{"p", 1}, {"q", 2}}));  // earlier maps in the list win
}

TEST_CASE("plain keys that go-yaml types as booleans or numbers are written as Go prints them") {
  json v = value_of("on: 1\ny: 2\n0777: 3\n1e3: 4\n'on': 5\nname: 6\n\"0777\": 7\n");
  CHECK(v.dump() == R"({"true":2,"511":3,"1000":4,"on":5,"name":6,"0777":7})");
  // (duplicate keys: the later one wins, as in go-yaml; the key keeps its first position)
  auto docs = parse("y: 1\n");
  CHECK(docs[0].value == json({{"true", 1}}));
  CHECK(docs[0].locate("/true").line == 1);
}

TEST_CASE("multi-document streams") {
  auto docs = parse("a: 1\n---\n---\nb: 2\n...\n");
  REQUIRE(docs.size() == 3);
  CHECK(docs[0].value == json({{"a", 1}}));
  CHECK(docs[1].value.is_null());
  CHECK(docs[2].value == json({{"b", 2}}));
  CHECK(docs[0].index == 0);
  CHECK(docs[2].index == 2);
  CHECK(docs[2].start.line == 4);
  CHECK(parse("").empty());
  CHECK(parse("# only a comment\n").empty());
}

TEST_CASE("line marks: every value's key, 1-based, with escaped pointers") {
  auto docs = parse(
      "kind: RayCluster\n"         // 1
      "spec:\n"                    // 2
      "  workerGroupSpecs:\n"      // 3
      "  - groupName: a\n"         // 4
      "    limits:\n"              // 5
      "      nvidia.com/gpu: 1\n"  // 6
      "      a~b: 2\n"             // 7
      "---\n"                      // 8
      "kind: Pod\n"                // 9
      "metadata:\n"                // 10
      "   name: x\n");             // 11
  REQUIRE(docs.size() == 2);
  const YamlDocument& d = docs[0];
  CHECK(d.locate("/kind").line == 1);
  CHECK(d.locate("/kind").column == 1);
  CHECK(d.locate("/spec/workerGroupSpecs").line == 3);
  CHECK(d.locate("/spec/workerGroupSpecs/0").line == 4);
  CHECK(d.locate("/spec/workerGroupSpecs/0").column == 5);
  CHECK(d.locate("/spec/workerGroupSpecs/0/groupName").column == 5);
  CHECK(d.locate("/spec/workerGroupSpecs/0/limits/nvidia.com~1gpu").line == 6);
  CHECK(d.locate("/spec/workerGroupSpecs/0/limits/nvidia.com~1gpu").column == 7);
  CHECK(d.locate("/spec/workerGroupSpecs/0/limits/a~0b").line == 7);
  // Nothing there: the nearest ancestor that exists.
  CHECK(d.locate("/spec/workerGroupSpecs/0/limits/cpu").line == 5);
  CHECK(d.locate("/spec/headGroupSpec/template").line == 2);
  CHECK(d.locate("").line == 1);
  // Lines count from the start of the stream, not of the document.
  CHECK(docs[1].locate("/metadata/name").line == 11);
  CHECK(docs[1].locate("/metadata/name").column == 4);
  CHECK(docs[1].locate("/nothing").line == docs[1].start.line);
}

TEST_CASE("invalid YAML is an error with its line") {
  YamlError err;
  CHECK(!parse_yaml_stream("a: 1\nb: [1, 2\nc: 3\n", err).has_value());
  CHECK(err.mark.line >= 2);
  CHECK(!err.message.empty());
  YamlError err2;
  CHECK(!parse_yaml_stream("a: 1\n  b: 2\n", err2).has_value());
  CHECK(err2.mark.line == 2);
  YamlError err3;
  CHECK(!parse_yaml_stream("a: *nowhere\n", err3).has_value());
  CHECK(err3.mark.line == 1);
}

TEST_CASE("to_yaml reads back to the same value: strings that look like something else") {
  const std::vector<std::string> tricky = {"1",
                                           "true",
                                           "on",
                                           "off",
                                           "yes",
                                           "no",
                                           "y",
                                           "n",
                                           "Y",
                                           "N",
                                           "null",
                                           "Null",
                                           "~",
                                           "",
                                           " ",
                                           "0777",
                                           "0x1F",
                                           "1e3",
                                           "1_000",
                                           ".5",
                                           "08",
                                           "+1",
                                           "-1",
                                           "1.0",
                                           "a: b",
                                           "a:b",
                                           "a:",
                                           ":a",
                                           "-",
                                           "- x",
                                           "-x",
                                           "? x",
                                           "?",
                                           "#c",
                                           "a #b",
                                           "a#b",
                                           "x ",
                                           " x",
                                           "\tx",
                                           "x\t",
                                           "'",
                                           "\"",
                                           "'q'",
                                           "\"q\"",
                                           "@x",
                                           "`x",
                                           "%x",
                                           "!x",
                                           "&x",
                                           "*x",
                                           "|",
                                           ">",
                                           "[x]",
                                           "{x}",
                                           ",x",
                                           "x,y",
                                           "a\\b",
                                           "multi\nline",
                                           "multi\nline\n",
                                           "trailing\n\n",
                                           "\n",
                                           "\nleading newline",
                                           "  leading spaces\nand more",
                                           "line\n  indented\nback",
                                           "tab\tinside",
                                           "trailing space \nline",
                                           "crlf\r\nline",
                                           "nul\x01ctl",
                                           "é unicode ü",
                                           "日本語",
                                           "emoji 🙂",
                                           "--- x",
                                           "---",
                                           "...",
                                           "=",
                                           "<<",
                                           "2024-01-01",
                                           "1:30",
                                           "x: y: z",
                                           "key: |",
                                           "ray start --head "
                                           "--resources='{\"Custom1\": 1}'"};
  for (const std::string& s : tricky) {
    INFO("string: [" << s << "]\n" << to_yaml(json({{"v", s}})));
    CHECK(round_trip(json(s)) == json(s));
    CHECK(round_trip(json({{"v", s}})) == json({{"v", s}}));
    CHECK(round_trip(json({{s, "key"}})) == json({{s, "key"}}));
    CHECK(round_trip(json::array({s, json::array({s}), json({{"k", s}})})) ==
          json::array({s, json::array({s}), json({{"k", s}})}));
  }
}

TEST_CASE("to_yaml reads back to the same value: numbers, nesting, empty containers") {
  json v = {{"int", 42},
            {"neg", -7},
            {"big", INT64_MAX},
            {"ubig", UINT64_MAX},
            {"float", 0.1},
            {"whole float", 2.0},
            {"tiny", 1e-300},
            {"bool", false},
            {"null", nullptr},
            {"empty obj", json::object()},
            {"empty arr", json::array()},
            {"nested", json::array({json::array({1, json::array({2, json::object()})}), json({{"a", json::array()}})})},
            {"objects in a list", json::array({json({{"name", "a"}, {"ports", json::array({json({{"p", 1}})})}}),
                                               json({{"x", json({{"y", json({{"z", "deep"}})}})}})})}};
  json back = round_trip(v);
  CHECK(back == v);
  json expected = v;
  expected["whole float"] = 2;            // kubectl would send 2
  CHECK(back.dump() == expected.dump());  // the order of keys is kept too
  CHECK(round_trip(json(nullptr)).is_null());
  CHECK(round_trip(json::object()) == json::object());
  CHECK(round_trip(json::array()) == json::array());
}

TEST_CASE("to_yaml writes block style that reads like the input") {
  json v = {
      {"apiVersion", "ray.io/v1"},
      {"metadata", {{"name", "demo"}}},
      {"spec", {{"containers", json::array({json({{"name", "ray"}, {"args", json::array({"--port", "6379"})}})})}}}};
  CHECK(to_yaml(v) ==
        "apiVersion: ray.io/v1\n"
        "metadata:\n"
        "  name: demo\n"
        "spec:\n"
        "  containers:\n"
        "  - name: ray\n"
        "    args:\n"
        "    - --port\n"
        "    - \"6379\"\n");
}

TEST_CASE("invalid UTF-8 is an error with its place, valid multi-byte text is not") {
  YamlError err;
  CHECK(!parse_yaml_stream("a: 1\nname: \"caf\xe9\"\n", err).has_value());
  CHECK(err.mark.line == 2);
  CHECK(err.mark.column == 11);
  CHECK(err.message.find("UTF-8") != std::string::npos);
  for (const char* bad : {"a: \xc0\xaf\n", "a: \xed\xa0\x80\n", "a: \xf4\x90\x80\x80\n", "a: \xe2\x82\n", "\xff"}) {
    YamlError e;
    CHECK(!parse_yaml_stream(bad, e).has_value());
    CHECK(e.mark.line == 1);
  }
  CHECK(value_of("a: \"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82\"\n")["a"] ==
        json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82"));
  CHECK(value_of("\xef\xbb\xbf"
                 "a: 1\n")["a"] == json(1));  // a byte order mark
}
