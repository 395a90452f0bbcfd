#!/bin/sh
# Installs what is missing, builds, and runs every test.
# Usage: scripts/test.sh [--sanitize]    (--sanitize: a separate build under ASan and UBSan)
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if [ "${1:-}" = "--sanitize" ]; then
  dir=build-asan
  flags="-DRAY_ADMISSION_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DRAY_ADMISSION_BENCH=OFF"
else
  dir=build
  flags="-DCMAKE_BUILD_TYPE=RelWithDebInfo"
fi
# shellcheck disable=SC2086
cmake -S . -B "$dir" $flags >/dev/null
cmake --build "$dir" -j "$(nproc)"
cd "$dir"
ctest --output-on-failure -j "$(nproc)"
