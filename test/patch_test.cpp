// rules/patch: PatchBuilder (minimal patches that create missing parents) and apply_patch (RFC 6902).
#include "rules/patch.h"

#include "rules/rule.h"

#include <doctest/doctest.h>

#include <string>

using namespace ray_admission;

namespace {

Json j(const char* text) {
  Json v = Json::parse(text, nullptr, false);
  REQUIRE_MESSAGE(!v.is_discarded(), "bad test JSON: " << text);
  return v;
}

std::string dump(const Patch& p) { return patch_to_json(p).dump(); }

// Applies `patch` (JSON text) to `doc` and returns the result, or the error.
Json applied(Json doc, const char* patch) {
  Patch p;
  for (const Json& op : j(patch)) {
    p.push_back(PatchOp{op["op"].get<std::string>(), op["path"].get<std::string>(), op.value("from", std::string()),
                        op.value("value", Json())});
  }
  auto err = apply_patch(doc, p);
  REQUIRE_MESSAGE(!err.has_value(), "patch " << patch << " failed: " << err.value_or(""));
  return doc;
}

std::optional<std::string> apply_error(Json& doc, const char* patch) {
  Patch p;
  for (const Json& op : j(patch)) {
    p.push_back(PatchOp{op["op"].get<std::string>(), op["path"].get<std::string>(), op.value("from", std::string()),
                        op.value("value", Json())});
  }
  return apply_patch(doc, p);
}

}  // namespace

TEST_CASE("PatchBuilder: an add under missing parents becomes one add of the outermost one") {
  Json doc = j(R"({"spec": {"containers": [{"name": "ray"}]}})");
  PatchBuilder b(doc);
  REQUIRE(b.append(add_op("/spec/containers/0/lifecycle/preStop", j(R"({"exec": {"command": ["ray", "stop"]}})"))));
  CHECK(
      dump(b.patch()) ==
      R"([{"op":"add","path":"/spec/containers/0/lifecycle","value":{"preStop":{"exec":{"command":["ray","stop"]}}}}])");
  // Nothing missing: the add stays as it is.
  PatchBuilder b2(doc);
  REQUIRE(b2.append(add_op("/spec/containers/0/image", "rayproject/ray:2.9.0")));
  CHECK(dump(b2.patch()) == R"([{"op":"add","path":"/spec/containers/0/image","value":"rayproject/ray:2.9.0"}])");
}

TEST_CASE("PatchBuilder: replace versus add, and adds that change nothing") {
  Json doc = j(R"({"p": {"num-cpus": 1, "same": "x"}})");
  PatchBuilder b(doc);
  REQUIRE(b.append(add_op("/p/num-cpus", "1")));  // exists with another value: replace
  REQUIRE(b.append(add_op("/p/same", "x")));      // already so: dropped
  REQUIRE(b.append(add_op("/p/new", "y")));       // absent: add
  CHECK(dump(b.patch()) ==
        R"([{"op":"replace","path":"/p/num-cpus","value":"1"},{"op":"add","path":"/p/new","value":"y"}])");
}

TEST_CASE("PatchBuilder: duplicates are dropped, and two adds under one new parent both land") {
  Json doc = j(R"({"spec": {"headGroupSpec": {"template": {}}}})");
  PatchBuilder b(doc);
  const char* params = "/spec/headGroupSpec/rayStartParams";
  REQUIRE(b.append(add_op(std::string(params) + "/dashboard-host", "0.0.0.0")));
  REQUIRE(b.append(add_op(std::string(params) + "/dashboard-host", "0.0.0.0")));  // the same fix twice
  REQUIRE(b.append(add_op(std::string(params) + "/num-cpus", "2")));              // a second key, same new parent
  CHECK(dump(b.patch()) ==
        R"([{"op":"add","path":"/spec/headGroupSpec/rayStartParams","value":{"dashboard-host":"0.0.0.0"}},)"
        R"({"op":"add","path":"/spec/headGroupSpec/rayStartParams/num-cpus","value":"2"}])");
  Json out = doc;
  REQUIRE(!apply_patch(out, b.patch()));
  CHECK(out["spec"]["headGroupSpec"]["rayStartParams"] == j(R"({"dashboard-host": "0.0.0.0", "num-cpus": "2"})"));
  // Deeper: the second add needs a parent inside what the first one created.
  PatchBuilder b2(doc);
  REQUIRE(b2.append(add_op("/spec/a/b/c", 1)));
  REQUIRE(b2.append(add_op("/spec/a/d/e", 2)));
  REQUIRE(b2.append(add_op("/spec/a/b/c", 1)));
  Json out2 = doc;
  REQUIRE(!apply_patch(out2, b2.patch()));
  CHECK(out2["spec"]["a"] == j(R"({"b": {"c": 1}, "d": {"e": 2}})"));
  CHECK(b2.patch().size() == 2);
  // A second builder over the result has nothing to do: the ops are idempotent.
  PatchBuilder again(out2);
  REQUIRE(again.append(add_op("/spec/a/b/c", 1)));
  REQUIRE(again.append(add_op("/spec/a/d/e", 2)));
  CHECK(again.patch().empty());
}

TEST_CASE("PatchBuilder: escaped keys and what cannot apply") {
  Json doc = j(R"({"limits": {}, "s": "scalar", "arr": [1]})");
  PatchBuilder b(doc);
  REQUIRE(b.append(add_op("/limits/nvidia.com~1gpu", "1")));
  REQUIRE(b.append(add_op("/annotations/ray.io~1ft-enabled", "true")));
  CHECK(dump(b.patch()) == R"([{"op":"add","path":"/limits/nvidia.com~1gpu","value":"1"},)"
                           R"({"op":"add","path":"/annotations","value":{"ray.io/ft-enabled":"true"}}])");
  CHECK(!b.append(add_op("/s/x", 1)));  // a scalar where an object is needed
  CHECK(!b.append(add_op("/s/x/y", 1)));
  CHECK(!b.append(add_op("/arr/5/x", 1)));   // no such array element to create a parent in
  CHECK(!b.append(add_op("", 1)));           // not the root
  CHECK(b.patch().size() == 2);              // failed appends add nothing
  REQUIRE(b.append(add_op("/arr/-", 2)));    // an array insert stays an add
  REQUIRE(b.append(replace_op("/s", "t")));  // other ops pass through
  CHECK(b.patch().size() == 4);
  Json out = doc;
  REQUIRE(!apply_patch(out, b.patch()));
  CHECK(out == j(R"({"limits": {"nvidia.com/gpu": "1"}, "s": "t", "arr": [1, 2],
                     "annotations": {"ray.io/ft-enabled": "true"}})"));

  // An array insert takes an index up to the array's size, in canonical form.
  for (const char* bad : {"/arr/2", "/arr/01", "/arr/x", "/arr/+1", "/arr/-1", "/arr/", "/arr/1000000000"}) {
    CAPTURE(bad);
    CHECK(!b.append(add_op(bad, 0)));
  }
  REQUIRE(b.append(add_op("/arr/1", 3)));
  REQUIRE(b.append(add_op("/arr/0", 4)));
  // Several escaped tokens in one path, under a missing parent: each key is unescaped.
  REQUIRE(b.append(add_op("/x~1y/a~0b/c~1~0d", 5)));
  CHECK(b.patch().back().path == "/x~1y");
  CHECK(b.patch().back().value == j(R"({"a~b": {"c/~d": 5}})"));
}

TEST_CASE("PatchBuilder: a long patch sees the earlier ops as a short one does") {
  // Past 32 ops the builder finds earlier writes through an index: the same answers, without
  // reading every op for each new one.
  Json doc = j(R"({"spec": {"g": []}})");
  for (int i = 0; i < 50; ++i) doc["spec"]["g"].push_back(Json::object());
  PatchBuilder b(doc);
  Json expected = doc;
  for (int i = 0; i < 50; ++i) {
    const std::string group = "/spec/g/" + std::to_string(i);
    REQUIRE(b.append(add_op(group + "/a/b", i)));      // creates /a: one add of {"b": i}
    REQUIRE(b.append(add_op(group + "/a/c", "x")));    // /a exists now: a plain add
    REQUIRE(b.append(add_op(group + "/a/b", i)));      // already so: dropped
    REQUIRE(b.append(add_op(group + "/a/b", i + 1)));  // written by the first op: replaced
    CHECK(!b.append(add_op(group + "/a/c/d", 1)));     // a scalar written earlier stands in the way
    expected["spec"]["g"][static_cast<std::size_t>(i)]["a"] = {{"b", i + 1}, {"c", "x"}};
  }
  REQUIRE(b.patch().size() == 150);
  CHECK(b.patch()[0].path == "/spec/g/0/a");
  CHECK(b.patch()[1].path == "/spec/g/0/a/c");
  CHECK(b.patch()[149].op == "replace");
  Json out = doc;
  REQUIRE(!apply_patch(out, b.take()));
  CHECK(out == expected);
}

TEST_CASE("apply_patch: RFC 6902 operations") {
  // A.1 add an object member; A.2 add an array element; A.16 an array value is one element.
  CHECK(applied(j(R"({"foo": "bar"})"), R"([{"op": "add", "path": "/baz", "value": "qux"}])") ==
        j(R"({"foo": "bar", "baz": "qux"})"));
  CHECK(applied(j(R"({"foo": ["bar", "baz"]})"), R"([{"op": "add", "path": "/foo/1", "value": "qux"}])") ==
        j(R"({"foo": ["bar", "qux", "baz"]})"));
  CHECK(applied(j(R"({"foo": ["bar"]})"), R"([{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}])") ==
        j(R"({"foo": ["bar", ["abc", "def"]]})"));
  CHECK(applied(j(R"({"foo": [1]})"), R"([{"op": "add", "path": "/foo/1", "value": 2}])") == j(R"({"foo": [1, 2]})"));
  // add onto an existing member replaces it.
  CHECK(applied(j(R"({"a": 1})"), R"([{"op": "add", "path": "/a", "value": 2}])") == j(R"({"a": 2})"));
  // A.3/A.4 remove; A.5 replace; A.6/A.7 move.
  CHECK(applied(j(R"({"baz": "qux", "foo": "bar"})"), R"([{"op": "remove", "path": "/baz"}])") ==
        j(R"({"foo": "bar"})"));
  CHECK(applied(j(R"({"foo": ["bar", "qux", "baz"]})"), R"([{"op": "remove", "path": "/foo/1"}])") ==
        j(R"({"foo": ["bar", "baz"]})"));
  CHECK(applied(j(R"({"baz": "qux", "foo": "bar"})"), R"([{"op": "replace", "path": "/baz", "value": "boo"}])") ==
        j(R"({"baz": "boo", "foo": "bar"})"));
  CHECK(applied(j(R"({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}})"),
                R"([{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}])") ==
        j(R"({"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}})"));
  CHECK(applied(j(R"({"foo": ["all", "grass", "cows", "eat"]})"),
                R"([{"op": "move", "from": "/foo/1", "path": "/foo/3"}])") ==
        j(R"({"foo": ["all", "cows", "eat", "grass"]})"));
  // Moving the Ray container to the front (ray-container-first's fix).
  CHECK(applied(j(R"({"c": ["fluent-bit", "ray"]})"), R"([{"op": "move", "from": "/c/1", "path": "/c/0"}])") ==
        j(R"({"c": ["ray", "fluent-bit"]})"));
  // A.10 add a nested member object; replace of the root; replace of an array element.
  CHECK(applied(j(R"({"foo": "bar"})"), R"([{"op": "add", "path": "/child", "value": {"grandchild": {}}}])") ==
        j(R"({"foo": "bar", "child": {"grandchild": {}}})"));
  CHECK(applied(j(R"({"a": 1})"), R"([{"op": "replace", "path": "", "value": [1]}])") == j("[1]"));
  CHECK(applied(j(R"({"a": [1, 2, 3]})"), R"([{"op": "replace", "path": "/a/1", "value": 9}])") ==
        j(R"({"a": [1, 9, 3]})"));
  // Ops see what earlier ops did.
  CHECK(applied(j("{}"), R"([{"op": "add", "path": "/a", "value": {}}, {"op": "add", "path": "/a/b", "value": 1}])") ==
        j(R"({"a": {"b": 1}})"));
}

TEST_CASE("apply_patch: A.14 escape ordering, and keys with '/'") {
  CHECK(applied(j(R"({"/": 9, "~1": 10})"), R"([{"op": "replace", "path": "/~01", "value": 11}])") ==
        j(R"({"/": 9, "~1": 11})"));
  CHECK(applied(j(R"({"/": 9, "~1": 10})"), R"([{"op": "replace", "path": "/~1", "value": 12}])") ==
        j(R"({"/": 12, "~1": 10})"));
  CHECK(applied(j(R"({"limits": {}})"), R"([{"op": "add", "path": "/limits/nvidia.com~1gpu", "value": "1"}])") ==
        j(R"({"limits": {"nvidia.com/gpu": "1"}})"));
}

TEST_CASE("apply_patch: errors name the problem and leave the document unchanged") {
  const Json original = j(R"({"foo": "bar", "arr": [1, 2]})");
  for (const char* bad : {
           R"([{"op": "add", "path": "/baz/bat", "value": "qux"}])",  // A.12 nonexistent target
           R"([{"op": "remove", "path": "/nothing"}])", R"([{"op": "replace", "path": "/nothing", "value": 1}])",
           R"([{"op": "add", "path": "/arr/3", "value": 1}])",   // past the end
           R"([{"op": "add", "path": "/arr/01", "value": 1}])",  // leading zero
           R"([{"op": "add", "path": "/arr/x", "value": 1}])", R"([{"op": "remove", "path": "/arr/2"}])",
           R"([{"op": "remove", "path": "/arr/-"}])",
           R"([{"op": "add", "path": "/foo/x", "value": 1}])",       // into a string
           R"([{"op": "move", "from": "/arr", "path": "/arr/0"}])",  // into itself
           R"([{"op": "move", "from": "/nothing", "path": "/x"}])", R"([{"op": "frobnicate", "path": "/foo"}])",
           R"([{"op": "add", "path": "/ok", "value": 1}, {"op": "remove", "path": "/nothing"}])",  // atomic
       }) {
    INFO(bad);
    Json doc = original;
    auto err = apply_error(doc, bad);
    CHECK(err.has_value());
    CHECK(!err.value_or("").empty());
    CHECK(doc == original);
  }
}
