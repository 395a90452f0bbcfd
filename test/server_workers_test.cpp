// How many worker threads `serve` starts by default: one per CPU the pod may use.
#include "server/https_server.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <thread>

using namespace ray_admission::server;

TEST_CASE("server: a cgroup CPU quota in whole CPUs, rounded up") {
  CHECK(cpus_from_cpu_max("max 100000") == 0);
  CHECK(cpus_from_cpu_max("100000 100000") == 1);
  CHECK(cpus_from_cpu_max("150000 100000\n") == 2);
  CHECK(cpus_from_cpu_max("50000 100000") == 1);
  CHECK(cpus_from_cpu_max("400000 100000") == 4);
  CHECK(cpus_from_cpu_max("-1 100000") == 0);  // cgroup v1: no quota
  CHECK(cpus_from_cpu_max("") == 0);
  CHECK(cpus_from_cpu_max("garbage") == 0);
  CHECK(cpus_from_cpu_max("100000 0") == 0);
  CHECK(cpus_from_cpu_max("12x 100000") == 0);
}

TEST_CASE("server: default workers follow the usable CPUs, two each") {
  const int cpus = usable_cpus();
  CHECK(cpus >= 1);
  CHECK(cpus <= static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  CHECK(default_workers() == 2 * cpus);
}
