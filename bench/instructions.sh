#!/usr/bin/env bash
# User-space instructions per request of the running server, counted by valgrind's callgrind.
#
# On a shared machine the end-to-end timings (bench/e2e.sh) move by ±20 % with whatever else the
# cores are doing, which hides a change worth a few percent. Instructions do not move with the
# machine: this starts `ray-admission serve` under callgrind with counting off, warms it up with
# wrk, counts while wrk POSTs the typical AdmissionReview (the same body as e2e.sh) to /validate
# and then to /mutate, and divides by the requests wrk saw answered. What it leaves out: the
# kernel's work (system calls, TCP over loopback), cache misses, and waiting for locks; what
# it includes besides the requests: the TLS handshakes of wrk's two connections (the server runs
# with --keep-alive-max 0, so that it never closes them; about 0.3 % of the count at the default
# duration). Two builds compared this way differ by what their code does.
#
# Needs: valgrind and wrk (scripts/install-deps.sh --with-bench), and a built tree.
#
# Usage: bench/instructions.sh [--quick] [--duration SEC] [--build-dir DIR] [--keep DIR]
#   --quick          2 s per target: proves the script works (CI)
#   --duration SEC   how long wrk sends requests to each target while counting (default 10;
#                    the server answers a few hundred requests a second under callgrind)
#   --build-dir DIR  where ray-admission and bench/engine_bench are (default: build-bench, which
#                    bench/e2e.sh builds when run without --build-dir)
#   --keep DIR       keep callgrind's output for each target in DIR (validate.out, mutate.out),
#                    for callgrind_annotate
# Exit status: 0 when every request was answered; 1 otherwise; 2 for bad arguments.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
duration=10
build_dir=$root/build-bench
keep=""

die() {
  echo "instructions: $*" >&2
  exit 1
}
usage() {
  sed -n '/^# Usage:/,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) duration=2 ;;
    --duration)
      if ! [[ "${2:-}" =~ ^[1-9][0-9]*$ ]]; then
        echo "instructions: --duration needs a whole number of seconds" >&2
        exit 2
      fi
      duration=$2; shift ;;
    --build-dir) [ $# -ge 2 ] || usage; build_dir=$2; shift ;;
    --keep) [ $# -ge 2 ] || usage; keep=$2; shift ;;
    -h | --help) usage ;;
    *) echo "instructions: unknown argument $1" >&2; usage ;;
  esac
  shift
done

for tool in valgrind callgrind_control callgrind_annotate wrk; do
  command -v "$tool" >/dev/null || die "$tool is missing: run scripts/install-deps.sh --with-bench"
done
RA=$build_dir/ray-admission
EB=$build_dir/bench/engine_bench
[ -x "$RA" ] || die "$RA not found (build the tree, or give --build-dir)"
[ -x "$EB" ] || die "$EB not found (build the engine_bench target)"
[ -z "$keep" ] || mkdir -p "$keep" || die "cannot create $keep"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ray-admission-instructions.XXXXXX")
server_pid=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ] && [ -f "$tmp/server.log" ]; then
    echo "instructions: last lines of the server's log:" >&2
    tail -n 5 "$tmp/server.log" >&2 || true
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

make_inputs "$tmp" "$RA" "$EB"

# Turns callgrind's counting in the server on or off. callgrind_control exits 0 even when it
# finds no such process, so its output tells.
control() {
  callgrind_control --instr="$1" "$server_pid" >"$tmp/control.txt" 2>&1 || true
  if grep -q '^Error' "$tmp/control.txt" || ! grep -q 'sending command' "$tmp/control.txt"; then
    die "callgrind_control could not turn counting $1: $(cat "$tmp/control.txt")"
  fi
}

# Requests wrk counted, and how many were not 2xx (0 when it printed no such line).
requests_of() { awk '/ requests in / { print $1 }' "$1"; }
non_2xx_of() { awk '/Non-2xx or 3xx responses:/ { print $NF }' "$1"; }

echo "== user-space instructions per request (callgrind; the kernel's work not counted), body $body_bytes bytes"
printf '%-11s %10s %22s\n' target requests instructions/request
failed=0
for path in /validate /mutate; do
  name=${path#/}
  out=$tmp/$name.out
  port=$(free_port)
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" \
    "$RA" serve --address 127.0.0.1 --port "$port" --tls-cert "$tmp/pki/tls.crt" --tls-key "$tmp/pki/tls.key" \
    --shutdown-timeout 2 --keep-alive-max 0 >"$tmp/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 300); do
    accepting "$port" && break
    kill -0 "$server_pid" 2>/dev/null || die "the server exited at start"
    sleep 0.1
  done
  accepting "$port" || die "the server did not listen within 30 s under valgrind"
  url=https://127.0.0.1:$port$path
  wrk -t1 -c2 -d2s --timeout 10s -s "$tmp/post.lua" "$url" >"$tmp/warmup.txt" 2>&1 || die "wrk failed: $(cat "$tmp/warmup.txt")"
  control on
  wrk -t1 -c2 -d"${duration}s" --timeout 10s -s "$tmp/post.lua" "$url" >"$tmp/wrk.txt" 2>&1 || die "wrk failed: $(cat "$tmp/wrk.txt")"
  control off
  kill -TERM "$server_pid"
  wait "$server_pid" || true  # callgrind writes its counts as the server exits
  server_pid=""
  requests=$(requests_of "$tmp/wrk.txt")
  bad=$(non_2xx_of "$tmp/wrk.txt")
  if [ -z "$requests" ] || [ "$requests" -eq 0 ]; then die "wrk answered no request on $path: $(cat "$tmp/wrk.txt")"; fi
  if [ -n "$bad" ] && [ "$bad" -gt 0 ]; then
    echo "instructions: $bad of $requests answers on $path were not 2xx" >&2
    failed=1
  fi
  total=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
  if [ -z "$total" ] || [ "$total" -eq 0 ]; then die "callgrind counted nothing on $path"; fi
  printf '%-11s %10d %22d\n' "$path" "$requests" $((total / requests))
  [ -z "$keep" ] || cp "$out" "$keep/$name.out"
done
echo "build: $build_dir"
if [ "$failed" -ne 0 ]; then exit 1; fi
