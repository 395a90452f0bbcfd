#!/usr/bin/env bash
# Compares builds end to end the only way this kind of machine allows: run in turn, round after
# round, so that each round's runs share the machine's phase (docs/benchmarks.md, "The machine").
# Each round runs bench/e2e.sh once per build directory, in the order given; every run's whole
# output is kept. At the end, per build and target: the median and the range over the rounds of
# requests/s (or, with --open-loop, the rate done), p99 and CPU per request.
#
# Usage: bench/compare.sh [--rounds N] [--out DIR] DIR... [-- E2E-OPTION...]
#   DIR              a build directory with ray-admission and bench/engine_bench (and
#                    bench/open_loop for --open-loop): copy the binaries of each tree to compare
#                    into a directory of their own first
#   --rounds N       rounds (default 3)
#   --out DIR        where the runs' outputs go (default: a new directory under /tmp)
#   -- E2E-OPTION... passed to every bench/e2e.sh run, e.g. -- --duration 5 --warmup 1 --pin
# Exit status: 0 when every run succeeded, 1 when one failed (its output is kept), 2 for bad
# arguments.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
rounds=3
out=""
dirs=()
e2e_args=()

usage() {
  sed -n '/^# Usage:/,/^# arguments/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --rounds)
      [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { echo "compare: --rounds needs a positive number" >&2; exit 2; }
      rounds=$2; shift ;;
    --out) [ $# -ge 2 ] || usage; out=$2; shift ;;
    --) shift; e2e_args=("$@"); break ;;
    -h | --help) usage ;;
    -*) echo "compare: unknown option $1" >&2; usage ;;
    *) dirs+=("$1") ;;
  esac
  shift
done
[ ${#dirs[@]} -ge 1 ] || { echo "compare: name at least one build directory" >&2; usage; }
for d in "${dirs[@]}"; do
  [ -x "$d/ray-admission" ] || { echo "compare: $d/ray-admission not found" >&2; exit 2; }
done
[ -n "$out" ] || out=$(mktemp -d "${TMPDIR:-/tmp}/ray-admission-compare.XXXXXX")
mkdir -p "$out"

# bash reads a script as it runs it: a copy, so that editing bench/e2e.sh meanwhile cannot break
# a run. It finds its repository through --build-dir, not through its own place, and the helpers
# it sources beside itself.
cp "$root/bench/e2e.sh" "$root/bench/lib.sh" "$out/"

failed=0
: >"$out/rows"
for r in $(seq "$rounds"); do
  for i in "${!dirs[@]}"; do
    d=${dirs[$i]}
    log=$out/round$r-build$((i + 1)).txt
    if ! bash "$out/e2e.sh" --build-dir "$d" ${e2e_args[@]+"${e2e_args[@]}"} >"$log" 2>&1; then
      echo "compare: round $r, $d failed; the last lines of $log:" >&2
      tail -n 5 "$log" >&2
      failed=1
    fi
    # Table rows: "/validate 1234.5 ..." (wrk) or "/validate RATE DONE ..." (open loop).
    awk -v b=$((i + 1)) -v r="$r" '/^\/validate |^\/mutate |^nginx +[0-9]/ { print b, r, $0 }' "$log" >>"$out/rows"
    grep -E '^/validate |^/mutate |^nginx +[0-9]' "$log" | sed "s|^|round $r  $d  |"
  done
done

echo
echo "== over $rounds rounds: median [min-max]"
open_loop=0
for a in ${e2e_args[@]+"${e2e_args[@]}"}; do [ "$a" = --open-loop ] && open_loop=1; done
if [ "$open_loop" -eq 1 ]; then
  # target rate done p50 p90 p99 p99.9 max late errors cpu
  cols="done:3 p50_ms:4 p99_ms:6 cpu_us:11"
else
  # target requests/s p50 p99 vs-nginx cpu
  cols="req/s:2 p50_ms:3 p99_ms:4 vs_nginx:5 cpu_us:6"
fi
for i in "${!dirs[@]}"; do
  echo "build $((i + 1)): ${dirs[$i]}"
  awk -v b=$((i + 1)) -v cols="$cols" -v ol="$open_loop" '
    function summary(list,   n, v, k, j, t) {
      n = split(list, v, " ")
      for (k = 2; k <= n; k++) { t = v[k]; for (j = k - 1; j >= 1 && v[j] + 0 > t + 0; j--) v[j + 1] = v[j]; v[j + 1] = t }
      return sprintf("%s [%s-%s]", (n % 2) ? v[(n + 1) / 2] : sprintf("%.2f", (v[n / 2] + v[n / 2 + 1]) / 2), v[1], v[n])
    }
    $1 == b {
      key = $3; if (ol) key = $3 " @" $4
      if (!(key in seen)) { seen[key] = 1; order[++count] = key }
      nc = split(cols, c, " ")
      for (k = 1; k <= nc; k++) { split(c[k], nf, ":"); vals[key, k] = vals[key, k] " " $(nf[2] + 2) }
    }
    END {
      nc = split(cols, c, " ")
      for (i = 1; i <= count; i++) {
        line = sprintf("  %-16s", order[i])
        for (k = 1; k <= nc; k++) { split(c[k], nf, ":"); line = line sprintf("  %s %s", nf[1], summary(vals[order[i], k])) }
        print line
      }
    }' "$out/rows"
done
echo "(every run's output: $out)"
exit "$failed"
