#!/usr/bin/env bash
# End-to-end HTTPS benchmark, from one command.
#
# Starts `ray-admission serve` and nginx on loopback with the same certificate (made with
# `ray-admission certs`), then runs wrk with keep-alive against /validate, /mutate and nginx,
# POSTing the AdmissionReview of a typical RayCluster (a head and two worker groups, from
# `engine_bench --dump-review 2`). nginx answers every POST with a constant AdmissionReview: it
# is the ceiling for TLS plus HTTP on this machine. Prints requests/s, p50 and p99 for each, the
# ratio to nginx, the server's time from start to ready, and its resident memory idle and under
# load. Every process it starts is stopped on exit.
#
# Needs: wrk and nginx (scripts/install-deps.sh --with-bench), curl, cmake and a compiler.
#
# Usage: bench/e2e.sh [--quick] [--duration SEC] [--warmup SEC] [--connections N] [--threads N]
#                     [--build-dir DIR] [--server-arg ARG]...
#   --quick          1 s per run and no warm-up: proves the script works (CI)
#   --duration SEC   length of each measured run (default 10)
#   --warmup SEC     an unmeasured run before each measured one (default 2)
#   --connections N  wrk connections (default 32)
#   --threads N      wrk threads (default 2)
#   --build-dir DIR  use DIR/ray-admission and DIR/bench/engine_bench as they are; without it,
#                    they are built in build-bench/ (Release)
#   --server-arg ARG one more argument for `ray-admission serve` (repeatable), e.g.
#                    --server-arg --log-level --server-arg warn
#   --server-env VAR=VALUE  an environment variable for the server only (repeatable), e.g.
#                    GLIBC_TUNABLES=glibc.malloc.tcache_count=1000
#   --nginx-workers N nginx worker processes (default 2)
#   --pin            wrk on the last CPU, the server and nginx on the others (taskset): the load
#                    generator then no longer competes with them for a core, and the latencies
#                    are those of the server, not of wrk's threads waiting for a CPU
#   --open-loop R[,R...]  instead of wrk, bench/open_loop at each fixed rate (requests/s) over the
#                    same connections: latency from when each request was due, at rates below
#                    saturation too (what the API server sees); needs DIR/bench/open_loop
# Exit status: 0 when every run answered only 2xx; 1 otherwise; 2 for bad arguments.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
duration=10
warmup=2
connections=32
threads=2
build_dir=""
nginx_workers=2
server_args=()
server_env=()
pin=0
open_rates=""

die() {
  echo "e2e: $*" >&2
  exit 1
}
usage() {
  sed -n '/^# Usage:/,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
number() { [[ "$2" =~ ^[0-9]+$ ]] || { echo "e2e: $1 needs a whole number, not '$2'" >&2; exit 2; }; }

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) duration=1; warmup=0 ;;
    --duration) number "$1" "${2:-}"; duration=$2; shift ;;
    --warmup) number "$1" "${2:-}"; warmup=$2; shift ;;
    --connections) number "$1" "${2:-}"; connections=$2; shift ;;
    --threads) number "$1" "${2:-}"; threads=$2; shift ;;
    --nginx-workers) number "$1" "${2:-}"; nginx_workers=$2; shift ;;
    --pin) pin=1 ;;
    --open-loop)
      [[ "${2:-}" =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "e2e: --open-loop needs rates like 1000,5000" >&2; exit 2; }
      open_rates=$2; shift ;;
    --build-dir) [ $# -ge 2 ] || usage; build_dir=$2; shift ;;
    --server-arg) [ $# -ge 2 ] || usage; server_args+=("$2"); shift ;;
    --server-env) [[ "${2:-}" == [A-Za-z_]*=* ]] || usage; server_env+=("$2"); shift ;;
    -h | --help) usage ;;
    *) echo "e2e: unknown argument $1" >&2; usage ;;
  esac
  shift
done
[ "$duration" -ge 1 ] || { echo "e2e: --duration must be at least 1" >&2; exit 2; }
if [ "$threads" -lt 1 ] || [ "$connections" -lt "$threads" ]; then
  echo "e2e: need connections >= threads >= 1" >&2
  exit 2
fi
# With --pin, what runs the servers and what runs wrk (empty prefixes without it).
serve_on=()
load_on=()
if [ "$pin" -eq 1 ]; then
  cpus=$(nproc)
  [ "$cpus" -ge 2 ] || { echo "e2e: --pin needs at least 2 CPUs" >&2; exit 2; }
  command -v taskset >/dev/null || { echo "e2e: --pin needs taskset (util-linux)" >&2; exit 2; }
  last=$((cpus - 1))
  serve_cpus=0
  [ "$last" -gt 1 ] && serve_cpus="0-$((last - 1))"
  serve_on=(taskset -c "$serve_cpus")
  load_on=(taskset -c "$last")
fi

for tool in wrk curl; do
  command -v "$tool" >/dev/null || die "$tool is missing: run scripts/install-deps.sh --with-bench"
done
NGINX=$(command -v nginx || true)
[ -n "$NGINX" ] || NGINX=/usr/sbin/nginx
[ -x "$NGINX" ] || die "nginx is missing: run scripts/install-deps.sh --with-bench"

# --- the binaries -----------------------------------------------------------------------------
if [ -z "$build_dir" ]; then
  build_dir=$root/build-bench
  echo "== building ray-admission and engine_bench (Release) in $build_dir"
  # GCC 12 at -O3 reports false -Wrestrict positives inside std::string (GCC bug 105329): they
  # must not stop a benchmark build.
  mkdir -p "$build_dir"
  log=$build_dir/e2e-build.log
  if ! { cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DRAY_ADMISSION_TESTS=OFF \
    -DCMAKE_CXX_FLAGS=-Wno-error=restrict && cmake --build "$build_dir" -j "$(nproc)" --target ray-admission engine_bench open_loop; } \
    >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "the build failed (the whole log: $log)"
  fi
fi
RA=$build_dir/ray-admission
EB=$build_dir/bench/engine_bench
[ -x "$RA" ] || die "$RA not found (build it, or leave out --build-dir)"
[ -x "$EB" ] || die "$EB not found (build the engine_bench target)"
OL=$build_dir/bench/open_loop
[ -z "$open_rates" ] || [ -x "$OL" ] || die "$OL not found (build the open_loop target)"

# --- cleanup: every process started here is stopped on exit -----------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ray-admission-e2e.XXXXXX")
chmod 755 "$tmp"  # nginx's workers (user nobody when started as root) create their temp dirs here
server_pid=""
nginx_pid=""
wrk_pid=""
stop() {  # pid: TERM, up to 5 s, then KILL
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "$wrk_pid" ] && stop "$wrk_pid"
  [ -n "$nginx_pid" ] && stop "$nginx_pid"
  [ -n "$server_pid" ] && stop "$server_pid"
  if [ "$rc" -ne 0 ] && [ -f "$tmp/server.log" ]; then
    echo "e2e: last lines of the server's log:" >&2
    tail -n 5 "$tmp/server.log" >&2 || true
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rss_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# The same, into $rss, without starting a process: it runs during the measured runs, where a
# fork and exec every 0.2 s would take a core from the server or wrk for a millisecond or two.
read_rss() {
  local k v _
  rss=0
  while read -r k v _; do
    if [ "$k" = "VmRSS:" ]; then rss=$v; return; fi
  done 2>/dev/null <"/proc/$1/status" || true
}
mb() { awk -v kb="$1" 'BEGIN { printf "%.1f", kb / 1024 }'; }

# --- the request body, the certificate, wrk's script ------------------------------------------
make_inputs "$tmp" "$RA" "$EB"
CURL=(curl --silent --show-error --max-time 5 --cacert "$tmp/pki/ca.crt")

# --- the server ---------------------------------------------------------------------------------
port=$(free_port)
# Start to ready: a poller (Debian's python3, started and armed before the server, so that its own
# start costs nothing) connects every half millisecond and asks GET /readyz over TLS; it writes
# the wall-clock time of the first accepted connection and of the first 200.
/usr/bin/python3 - "$port" "$tmp/pki/ca.crt" "$tmp/ready" <<'PY' &
import socket, ssl, sys, time
port, ca, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
open(out + ".armed", "w").close()
accepted = None
deadline = time.time() + 15
while time.time() < deadline:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            if accepted is None:
                accepted = time.time()
            with ctx.wrap_socket(s, server_hostname="localhost") as t:
                t.sendall(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                if t.recv(64).startswith(b"HTTP/1.1 200"):
                    with open(out, "w") as f:
                        f.write("%.6f %.6f\n" % (accepted, time.time()))
                    sys.exit(0)
    except OSError:
        pass
    time.sleep(0.0005)
sys.exit(1)
PY
poller_pid=$!
for _ in $(seq 1000); do
  [ -e "$tmp/ready.armed" ] && break
  kill -0 "$poller_pid" 2>/dev/null || die "the readiness poller (/usr/bin/python3) did not start"
  sleep 0.01
done
[ -e "$tmp/ready.armed" ] || die "the readiness poller did not start within 10 s"
t0=$EPOCHREALTIME
${serve_on[@]+"${serve_on[@]}"} env ${server_env[@]+"${server_env[@]}"} "$RA" serve --address 127.0.0.1 --port "$port" --tls-cert "$tmp/pki/tls.crt" --tls-key "$tmp/pki/tls.key" \
  --shutdown-timeout 2 ${server_args[@]+"${server_args[@]}"} >"$tmp/server.log" 2>&1 &
server_pid=$!
wait "$poller_pid" || die "/readyz did not answer 200 within 15 s"
kill -0 "$server_pid" 2>/dev/null || die "the server exited at start"
read -r accepted_at ready_at <"$tmp/ready"
listening_ms=$(awk -v a="$accepted_at" -v t="${t0/,/.}" 'BEGIN { printf "%.1f", (a - t) * 1000 }')
ready_ms=$(awk -v a="$ready_at" -v t="${t0/,/.}" 'BEGIN { printf "%.1f", (a - t) * 1000 }')

# One request each, checked, before any load.
post() { "${CURL[@]}" -H 'Content-Type: application/json' --data-binary "@$tmp/review.json" "$@"; }
post "https://localhost:$port/validate" >"$tmp/validate.json" || die "POST /validate failed"
post "https://localhost:$port/mutate" >"$tmp/mutate.json" || die "POST /mutate failed"
grep -q '"kind":"AdmissionReview"' "$tmp/validate.json" || die "/validate did not answer an AdmissionReview"
grep -q '"allowed":' "$tmp/validate.json" || die "/validate's answer has no allowed"
grep -q '"patchType":"JSONPatch"' "$tmp/mutate.json" || die "/mutate's answer has no patch for the typical review"
sleep 0.5
idle_rss=$(rss_kb "$server_pid" VmRSS)

# --- nginx: the same certificate, a constant AdmissionReview ------------------------------------
# It returns the server's own /validate answer when nginx can quote it as it is, else a minimal one.
answer=$(cat "$tmp/validate.json")
case "$answer" in
  *\'* | *\\* | *\$*) answer='{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"705ab4f5-6393-11e8-b7cc-42010a800002","allowed":true}}' ;;
esac
nginx_port=$(free_port)
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes $nginx_workers;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  client_body_buffer_size 64k;
  client_max_body_size 8m;
  keepalive_timeout 90s;
  keepalive_requests 1000;
  tcp_nodelay on;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_certificate $tmp/pki/tls.crt;
  ssl_certificate_key $tmp/pki/tls.key;
  server {
    listen 127.0.0.1:$nginx_port ssl;
    location / {
      default_type application/json;
      return 200 '$answer';
    }
  }
}
EOF
${serve_on[@]+"${serve_on[@]}"} "$NGINX" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" -g 'daemon off;' \
  >"$tmp/nginx/stdout.log" 2>&1 &
nginx_pid=$!
ok=""
for _ in $(seq 100); do
  kill -0 "$nginx_pid" 2>/dev/null || { cat "$tmp/nginx/error.log" >&2 || true; die "nginx exited at start"; }
  if [ "$(post "https://localhost:$nginx_port/" -o /dev/null -w '%{http_code}' 2>/dev/null)" = 200 ]; then
    ok=1
    break
  fi
  sleep 0.05
done
[ -n "$ok" ] || die "nginx did not answer within 5 s"

# --- wrk ----------------------------------------------------------------------------------------
to_ms() {  # wrk's "812.00us", "1.20ms", "2.01s" -> milliseconds
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n *= 1; else if (v ~ /s$/) n *= 1000; else if (v ~ /m$/) n *= 60000
    printf "%.2f", n }'
}

# CPU time (user + system, in clock ticks) of the given processes and of their children's
# processes (nginx's workers), read from /proc: what they cost, whatever else runs on the machine.
cpu_ticks() {
  # (a process may end while this runs: cat then fails on its file, which is fine)
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v want=" $* " '
    {
      pid = $1; line = $0; sub(/^[0-9]+ \(.*\) /, "", line); split(line, f, " ")  # f[1] = state, f[2] = ppid
      if (index(want, " " pid " ") || index(want, " " f[2] " ")) t += f[12] + f[13]
    }
    END { print t + 0 }'
}
ticks_per_s=$(getconf CLK_TCK)

failed=0
declare -A rps p50 p99 peak cpu_us
run() {  # name url: a warm-up, then the measured run; sets rps/p50/p99/peak/cpu_us[name]
  local name=$1 url=$2 out=$tmp/wrk-$1.txt pids
  if [ "$warmup" -gt 0 ]; then
    ${load_on[@]+"${load_on[@]}"} timeout $((warmup + 30)) wrk -t"$threads" -c"$connections" -d"${warmup}s" --timeout 5s -s "$tmp/post.lua" "$url" \
      >/dev/null 2>&1 || true
  fi
  pids=$server_pid
  [ "$name" = nginx ] && pids=$nginx_pid
  local t0
  t0=$(cpu_ticks "$pids")
  ${load_on[@]+"${load_on[@]}"} timeout $((duration + 30)) wrk -t"$threads" -c"$connections" -d"${duration}s" --timeout 5s --latency \
    -s "$tmp/post.lua" "$url" >"$out" 2>&1 &
  wrk_pid=$!
  local max=0
  # The same sampling for nginx as for the server, so that both runs share its cost.
  while kill -0 "$wrk_pid" 2>/dev/null; do
    read_rss "${pids%% *}"
    [ "$name" != nginx ] && [ "${rss:-0}" -gt "$max" ] && max=$rss
    sleep 0.2
  done
  local rc=0 t1 n
  wait "$wrk_pid" || rc=$?
  wrk_pid=""
  t1=$(cpu_ticks "$pids")
  n=$(awk '/ requests in / { print $1 }' "$out")
  cpu_us[$name]=$(awk -v t=$((t1 - t0)) -v hz="$ticks_per_s" -v n="${n:-0}" 'BEGIN { if (n > 0) printf "%.0f", t / hz * 1e6 / n; else print "-" }')
  [ "$rc" -eq 0 ] || { cat "$out" >&2; die "wrk failed on $url (status $rc)"; }
  rps[$name]=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
  p50[$name]=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
  p99[$name]=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
  peak[$name]=$max
  [ -n "${rps[$name]}" ] || { cat "$out" >&2; die "no result from wrk on $url"; }
  if grep -q 'Non-2xx or 3xx responses' "$out"; then
    echo "e2e: $name: $(grep 'Non-2xx' "$out")" >&2
    failed=1
  fi
  if grep -q 'Socket errors' "$out"; then
    echo "e2e: $name: $(grep 'Socket errors' "$out" | sed 's/^ *//')" >&2
    grep -q 'Socket errors: connect [1-9]' "$out" && failed=1
  fi
  kill -0 "$server_pid" 2>/dev/null || die "the server died during the $name run"
}

# --- open loop (instead of wrk) -----------------------------------------------------------------
if [ -n "$open_rates" ]; then
  echo "== open_loop: $connections connections, ${duration} s per run (warm-up ${warmup} s), body $body_bytes bytes"
  printf '\n%-10s %8s %8s %8s %8s %8s %8s %8s %7s %7s %11s\n' target rate 'done' 'p50 ms' 'p90 ms' 'p99 ms' 'p99.9' \
    'max ms' late errors 'CPU us/req'
  for rate in ${open_rates//,/ }; do
    for t in validate mutate nginx; do
      if [ "$t" = nginx ]; then p=$nginx_port path=/ pids=$nginx_pid; else p=$port path=/$t pids=$server_pid; fi
      t0=$(cpu_ticks "$pids")
      line=$(${load_on[@]+"${load_on[@]}"} timeout $((warmup + duration + 40)) "$OL" --port "$p" --path "$path" \
        --body "$tmp/review.json" --rate "$rate" --connections "$connections" --duration "$duration" --warmup "$warmup") ||
        { echo "$line" >&2; die "open_loop failed on $t at $rate requests/s"; }
      t1=$(cpu_ticks "$pids")
      # "rate R done D p50 A p90 B p99 C p99.9 E max M late Q errors X"
      read -r _ r _ d _ a _ b _ c _ e _ m _ q _ x <<<"$line"
      cpu=$(awk -v t=$((t1 - t0)) -v hz="$ticks_per_s" -v n="$d" -v s=$((warmup + duration)) \
        'BEGIN { if (n > 0) printf "%.0f", t / hz * 1e6 / (n * s); else print "-" }')
      label=/$t
      [ "$t" = nginx ] && label=nginx
      printf '%-10s %8s %8s %8s %8s %8s %8s %8s %7s %7s %11s\n' "$label" "$r" "$d" "$a" "$b" "$c" "$e" "$m" "$q" "$x" "$cpu"
      [ "$x" = 0 ] || failed=1
      kill -0 "$server_pid" 2>/dev/null || die "the server died during the open-loop run on $t"
    done
  done
  echo
  echo "(CPU us/req: the server's or nginx's CPU time over the run and its warm-up, per request at the rate done)"
  echo "server: from start, a TCP connection accepted after ${listening_ms} ms, /readyz answered 200 after ${ready_ms} ms"
  echo "server memory: VmRSS idle $(mb "$idle_rss") MB, VmHWM $(mb "$(rss_kb "$server_pid" VmHWM)") MB"
  echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  [ "$pin" -eq 1 ] && echo "pinned: the server and nginx on CPU(s) ${serve_on[2]}, open_loop on CPU ${load_on[2]}"
  echo "server options: ${server_args[*]:-(defaults)}${server_env[*]:+; environment: ${server_env[*]}}"
  [ "$failed" -eq 0 ] || die "some requests failed (see above)"
  exit 0
fi

echo "== wrk: $connections connections, $threads threads, ${duration} s per run (warm-up ${warmup} s), body $body_bytes bytes"
run validate "https://localhost:$port/validate"
run mutate "https://localhost:$port/mutate"
run nginx "https://localhost:$nginx_port/"
hwm=$(rss_kb "$server_pid" VmHWM)
load_rss=$((peak[validate] > peak[mutate] ? peak[validate] : peak[mutate]))

# --- report -------------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
# CPU us/req: the server's (or nginx's) own CPU time per request; unlike requests/s it does not
# depend on what else the machine runs at the time.
printf '\n%-10s %12s %10s %10s %10s %12s\n' target 'requests/s' 'p50 ms' 'p99 ms' 'vs nginx' 'CPU us/req'
for t in validate mutate nginx; do
  label=/$t
  [ "$t" = nginx ] && label=nginx
  printf '%-10s %12s %10s %10s %10s %12s\n' "$label" "${rps[$t]}" "${p50[$t]}" "${p99[$t]}" \
    "$(ratio "${rps[$t]}" "${rps[nginx]}")" "${cpu_us[$t]}"
done
echo
echo "server: from start, a TCP connection accepted after ${listening_ms} ms, /readyz answered 200 after ${ready_ms} ms"
echo "server memory: VmRSS idle $(mb "$idle_rss") MB, under load (max sampled) $(mb "$load_rss") MB, VmHWM $(mb "$hwm") MB"
echo "nginx answered ${#answer} bytes; the server's /validate answer is $(wc -c <"$tmp/validate.json") bytes, /mutate $(wc -c <"$tmp/mutate.json") bytes"
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$pin" -eq 1 ] && echo "pinned: the server and nginx on CPU(s) ${serve_on[2]}, wrk on CPU ${load_on[2]}"
echo "server options: ${server_args[*]:-(defaults)}${server_env[*]:+; environment: ${server_env[*]}}"
[ "$failed" -eq 0 ] || die "some requests failed (see above)"
