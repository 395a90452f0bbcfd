#!/bin/sh
# Installs every Debian package that building, running and testing ray-admission needs.
# Safe to run again: it installs nothing when everything is already present.
# Usage: scripts/install-deps.sh [--with-bench | --build-only]   (as root, or through sudo)
#   --build-only: only what building the binary needs (the Dockerfile's build stage)
set -eu

PACKAGES="
  build-essential cmake pkg-config ca-certificates
  libcpp-httplib-dev libssl-dev nlohmann-json3-dev libyaml-cpp-dev libspdlog-dev libfmt-dev doctest-dev libsimdjson-dev
  openssl curl python3 python3-jsonpatch python3-jsonschema python3-yaml iproute2
  clang libclang-rt-14-dev
"
# Only for tests and tooling: --build-only leaves these out.
TEST_ONLY="doctest-dev openssl curl python3 python3-jsonpatch python3-jsonschema python3-yaml iproute2 clang libclang-rt-14-dev"
if [ "${1:-}" = "--with-bench" ]; then
  PACKAGES="$PACKAGES wrk nginx-light valgrind"
elif [ "${1:-}" = "--build-only" ]; then
  kept=""
  for p in $PACKAGES; do
    case " $TEST_ONLY " in *" $p "*) ;; *) kept="$kept $p" ;; esac
  done
  PACKAGES=$kept
fi

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
if [ -z "$missing" ]; then
  echo "install-deps: all packages present"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
else
  echo "install-deps: missing packages:$missing; run this script as root or install sudo" >&2
  exit 1
fi
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
