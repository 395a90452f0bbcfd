#!/bin/sh
# Installs what is missing, builds, and starts the webhook server on its embedded default:
# a throwaway CA and a certificate for localhost, the default policy, port 8443.
# Extra arguments go to `ray-admission serve` (see `build/ray-admission serve --help`).
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target ray-admission
# glibc's per-thread cache as the container image sets it (Dockerfile; docs/benchmarks.md, section 31).
GLIBC_TUNABLES=${GLIBC_TUNABLES:-glibc.malloc.tcache_count=32}
export GLIBC_TUNABLES
exec build/ray-admission serve "$@"
