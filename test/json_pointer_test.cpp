// rules/json_pointer: RFC 6901 pointers and the dotted paths shown to users.
#include "rules/json_pointer.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace ray_admission;
namespace ptr = ray_admission::pointer;

TEST_CASE("escaping: ~ first, then /") {
  CHECK(ptr::escape("nvidia.com/gpu") == "nvidia.com~1gpu");
  CHECK(ptr::escape("a~b") == "a~0b");
  CHECK(ptr::escape("~1") == "~01");  // not "~1": the '~' is escaped, the '1' is not
  CHECK(ptr::escape("/~") == "~1~0");
  CHECK(ptr::escape("") == "");
  CHECK(ptr::unescape("~01") == "~1");  // RFC 6901: ~01 is "~1", never "/"
  CHECK(ptr::unescape("~1~0") == "/~");
  CHECK(ptr::unescape("ray.io~1ft-enabled") == "ray.io/ft-enabled");
  for (const char* s : {"a", "a/b", "a~b", "~0", "~1", "~01", "//", "~~", "ray.io/skip~x"}) {
    INFO(s);
    CHECK(ptr::unescape(ptr::escape(s)) == s);
  }
}

TEST_CASE("child and split") {
  CHECK(ptr::child("", "spec") == "/spec");
  CHECK(ptr::child("/a", "nvidia.com/gpu") == "/a/nvidia.com~1gpu");
  CHECK(ptr::child("/a", std::size_t{3}) == "/a/3");
  CHECK(ptr::child("/a", "") == "/a/");
  CHECK(ptr::split("") == std::vector<std::string>{});
  CHECK(ptr::split("/") == std::vector<std::string>{""});
  CHECK(ptr::split("/a/0/b~1c/~01") == std::vector<std::string>{"a", "0", "b/c", "~1"});
  CHECK(ptr::split("/a//b") == std::vector<std::string>{"a", "", "b"});
}

TEST_CASE("resolve") {
  Json doc = Json::parse(R"({"a": {"b/c": [10, {"~d": true}], "": 5}, "n": null, "0": "zero"})");
  REQUIRE(ptr::resolve(doc, "") == &doc);
  REQUIRE(ptr::resolve(doc, "/a/b~1c/0") != nullptr);
  CHECK(*ptr::resolve(doc, "/a/b~1c/0") == 10);
  REQUIRE(ptr::resolve(doc, "/a/b~1c/1/~0d") != nullptr);
  CHECK(*ptr::resolve(doc, "/a/b~1c/1/~0d") == true);
  REQUIRE(ptr::resolve(doc, "/a/") != nullptr);
  CHECK(*ptr::resolve(doc, "/a/") == 5);
  REQUIRE(ptr::resolve(doc, "/n") != nullptr);
  CHECK(ptr::resolve(doc, "/n")->is_null());
  REQUIRE(ptr::resolve(doc, "/0") != nullptr);  // an object key that looks like an index
  CHECK(*ptr::resolve(doc, "/0") == "zero");
  CHECK(ptr::resolve(doc, "/a/b~1c/2") == nullptr);
  CHECK(ptr::resolve(doc, "/a/b~1c/-") == nullptr);
  CHECK(ptr::resolve(doc, "/a/b~1c/01") == nullptr);  // no leading zeros
  CHECK(ptr::resolve(doc, "/a/b~1c/-1") == nullptr);
  CHECK(ptr::resolve(doc, "/a/b~1c/0/x") == nullptr);  // into a scalar
  CHECK(ptr::resolve(doc, "/a/b/c") == nullptr);       // unescaped '/' is two tokens
  CHECK(ptr::resolve(doc, "a") == nullptr);            // not a pointer
  CHECK(ptr::resolve(doc, "/missing") == nullptr);
  CHECK(ptr::resolve(doc, "/a/b~1c/99999999999999999999999") == nullptr);
}

TEST_CASE("dotted form") {
  CHECK(ptr::to_dotted("/spec/workerGroupSpecs/1/template/spec/containers/0") ==
        "spec.workerGroupSpecs[1].template.spec.containers[0]");
  CHECK(ptr::to_dotted("/metadata/annotations/ray.io~1ft-enabled") == "metadata.annotations[\"ray.io/ft-enabled\"]");
  CHECK(ptr::to_dotted("/spec/resources/limits/nvidia.com~1gpu") == "spec.resources.limits[\"nvidia.com/gpu\"]");
  CHECK(ptr::to_dotted("/spec/rayStartParams/num-cpus") == "spec.rayStartParams.num-cpus");
  CHECK(ptr::to_dotted("/spec/rayStartParams/num_cpus") == "spec.rayStartParams.num_cpus");
  CHECK(ptr::to_dotted("/a/b.c") == "a[\"b.c\"]");
  CHECK(ptr::to_dotted("/a/~0x") == "a[\"~x\"]");
  CHECK(ptr::to_dotted("/a/") == "a[\"\"]");
  CHECK(ptr::to_dotted("/0") == "[0]");
  CHECK(ptr::to_dotted("") == "");
  CHECK(ptr::to_dotted("/a/with space") == "a[\"with space\"]");
  CHECK(ptr::to_dotted("/a/q\"uote") == "a[\"q\\\"uote\"]");
}
