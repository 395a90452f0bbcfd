# shellcheck shell=bash
# Helpers shared by bench/e2e.sh and bench/instructions.sh, which source it after defining die().

# True when something accepts TCP connections on the loopback port (bash's /dev/tcp, no fork).
accepting() { : 2>/dev/null 3<>"/dev/tcp/127.0.0.1/$1"; }

# A loopback port nobody listens on.
free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 40000))
    if ! accepting "$p"; then
      echo "$p"
      return 0
    fi
  done
  die "no free port found"
}

# In DIR: the typical AdmissionReview (review.json, from ENGINE_BENCH --dump-review 2), a CA and
# a serving certificate for localhost and 127.0.0.1 (pki/, from RAY_ADMISSION certs), and wrk's
# script that POSTs the review (post.lua). Sets body_bytes.
make_inputs() {  # DIR RAY_ADMISSION ENGINE_BENCH
  local dir=$1 ra=$2 eb=$3
  "$eb" --dump-review 2 >"$dir/review.json" || die "$eb --dump-review failed"
  # shellcheck disable=SC2034  # read by the scripts that source this
  body_bytes=$(wc -c <"$dir/review.json")
  "$ra" certs --service ray-admission --namespace bench --out "$dir/pki" --dns localhost --ip 127.0.0.1 \
    >"$dir/certs.log" 2>&1 || { cat "$dir/certs.log" >&2; die "ray-admission certs failed"; }
  for f in ca.crt tls.crt tls.key; do [ -s "$dir/pki/$f" ] || die "ray-admission certs wrote no $f"; done
  cat >"$dir/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open("$dir/review.json", "rb"))
wrk.body = f:read("*a")
f:close()
LUA
}
