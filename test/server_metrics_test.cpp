// The Prometheus text the server exposes (server/metrics.h).
#include "server/metrics.h"

#include <doctest/doctest.h>

#include <string>

using namespace ray_admission;
using namespace ray_admission::server;

TEST_CASE("metrics: histogram, findings and bounded labels") {
  Metrics m;
  Decision d;
  d.webhook = Webhook::Mutate;
  d.kind = "RayCluster";
  d.operation = "CREATE";
  d.patch_ops = 2;
  d.findings = {{"ray-prestop", Action::Off}, {"ray-image-version", Action::Deny}};
  m.observe(d, 0.0003);
  m.observe(d, 20);  // beyond the last bucket: only +Inf
  Decision odd;
  odd.kind = "Some\"Kind\nInjected";
  odd.operation = "PATCH";
  m.observe(odd, 0.001);
  m.set_certificate_expiry(1700000000);
  m.policy_reload(false);
  std::string text = m.render();
  const std::string labels = R"(webhook="mutate",kind="RayCluster",operation="CREATE",result="patched")";
  CHECK(text.find("ray_admission_request_duration_seconds_bucket{" + labels + R"(,le="0.00025"} 0)") !=
        std::string::npos);
  CHECK(text.find("ray_admission_request_duration_seconds_bucket{" + labels + R"(,le="0.0005"} 1)") !=
        std::string::npos);
  CHECK(text.find("ray_admission_request_duration_seconds_bucket{" + labels + R"(,le="10"} 1)") != std::string::npos);
  CHECK(text.find("ray_admission_request_duration_seconds_bucket{" + labels + R"(,le="+Inf"} 2)") != std::string::npos);
  CHECK(text.find("ray_admission_request_duration_seconds_count{" + labels + "} 2") != std::string::npos);
  CHECK(text.find(R"(ray_admission_findings_total{rule="ray-image-version",action="deny"} 2)") != std::string::npos);
  CHECK(text.find(R"(ray_admission_findings_total{rule="ray-prestop",action="off"} 2)") != std::string::npos);
  // A kind or operation the engine does not know is "other": clients cannot add series.
  CHECK(text.find(R"(kind="other",operation="other")") != std::string::npos);
  CHECK(text.find("Injected") == std::string::npos);
  CHECK(text.find("ray_admission_certificate_expiry_timestamp_seconds 1700000000") != std::string::npos);
  CHECK(text.find("ray_admission_policy_reload_errors_total 1") != std::string::npos);
  CHECK(text.find("# TYPE ray_admission_request_duration_seconds histogram") != std::string::npos);
}
