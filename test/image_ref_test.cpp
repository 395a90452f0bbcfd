// Image references as the Ray image rules read them (rules/image_ref.h), and the text of
// rayStartParams values (rules/param_value.h).
#include "rules/image_ref.h"
#include "rules/param_value.h"

#include <doctest/doctest.h>

using namespace ray_admission;

TEST_CASE("image references split into repository, name, tag and digest") {
  image::Ref r = image::parse("rayproject/ray-ml:2.3.0-py310-gpu");
  CHECK(r.repository == "rayproject/ray-ml");
  CHECK(r.name == "ray-ml");
  CHECK(r.tag == "2.3.0-py310-gpu");
  CHECK(!r.has_digest);

  r = image::parse("my.reg:5000/ray");  // a port is not a tag
  CHECK(r.repository == "my.reg:5000/ray");
  CHECK(r.name == "ray");
  CHECK(r.tag.empty());

  r = image::parse("my.reg:5000/team/ray:2.9.0@sha256:abc");
  CHECK(r.name == "ray");
  CHECK(r.tag == "2.9.0");
  CHECK(r.has_digest);

  r = image::parse("rayproject/ray@sha256:abc");
  CHECK(r.tag.empty());
  CHECK(r.has_digest);

  r = image::parse("ray");
  CHECK(r.name == "ray");
  CHECK(r.tag.empty());

  CHECK(image::is_ray_release_image(image::parse("docker.io/rayproject/ray-llm:2.52.0-py311-cu128")));
  CHECK(!image::is_ray_release_image(image::parse("mycorp/ray-app:1.0.0")));
  CHECK(!image::is_ray_release_image(image::parse("amazon/aws-xray-daemon:3.3.10")));
}

TEST_CASE("the leading version of a tag") {
  auto v = [](std::string_view s) {
    auto got = image::leading_version(s);
    return got ? image::to_string(*got) : std::string("-");
  };
  CHECK(v("2.3.0-py310-gpu") == "2.3.0");
  CHECK(v("2.46.0.0e19ea-py39-gpu") == "2.46.0");
  CHECK(v("2.49.2.deprecated-py311-gpu") == "2.49.2");
  CHECK(v("2.10.0rc1") == "2.10.0");
  CHECK(v("2.9") == "2.9");
  CHECK(v("2") == "-");
  CHECK(v("nightly") == "-");
  CHECK(v("latest") == "-");
  CHECK(v("v2.9.0") == "-");
  CHECK(v("1a2b3c") == "-");
  CHECK(v("12345678901.1") == "-");  // not a plausible version: no overflow either

  auto ver = [](std::string_view s) { return *image::leading_version(s); };
  CHECK(image::prefix_match(ver("2.9"), ver("2.9.3")));
  CHECK(!image::prefix_match(ver("2.9.0"), ver("2.9.3")));
  CHECK(!image::prefix_match(ver("2.1.0"), ver("2.10.0")));
  CHECK(image::to_string(image::padded(ver("2.9"))) == "2.9.0");
}

TEST_CASE("Python versions and development builds in tags") {
  CHECK(image::python_version("2.9.0-py310-gpu") == "3.10");
  CHECK(image::python_version("2.46.0.0e19ea-py39") == "3.9");
  CHECK(!image::python_version("2.9.0-gpu"));
  CHECK(!image::python_version("2.9.0-pypy"));

  CHECK(image::is_dev_tag("nightly"));
  CHECK(image::is_dev_tag("nightly-py310-gpu"));
  CHECK(image::is_dev_tag("1a2b3c-py310"));
  CHECK(image::is_dev_tag("master-dev"));
  CHECK(!image::is_dev_tag("latest"));
  CHECK(!image::is_dev_tag("2.9.0-py310"));
  CHECK(!image::is_dev_tag("abcdef"));  // a word, not a commit
  CHECK(!image::is_dev_tag("ngc-th2.6.0-cu126"));
}

TEST_CASE("numbers and booleans are written as a person writes them") {
  CHECK(scalar_text(Json(1)) == "1");
  CHECK(scalar_text(Json(1.0)) == "1");
  CHECK(scalar_text(Json(0.5)) == "0.5");
  CHECK(scalar_text(Json(-2.0)) == "-2");
  CHECK(scalar_text(Json(true)) == "true");
  CHECK(scalar_text(Json(18446744073709551615ULL)) == "18446744073709551615");
  CHECK(!scalar_text(Json("1")));
  CHECK(!scalar_text(Json::object()));
  CHECK(!scalar_text(Json()));
}
