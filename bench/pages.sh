#!/usr/bin/env bash
# Page and API latency against the release binary on a fresh demo database.
#   bench/pages.sh            # builds nothing; run scripts/build.sh first
# Needs wrk (Debian package `wrk`). Prints p50/p99 latency and requests/s for the fleet
# page, a device page, persona homes and the Fleet server function, each signed in.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
port=${BENCH_PORT:-3998}
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
"$SUNFLEET_BIN" serve --demo --addr "127.0.0.1:$port" --db "surrealkv://$dir/db" >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 1 240); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.5
done
grep 'demo:' "$dir/log" | tail -n 1
base="http://127.0.0.1:$port"
# Every page needs a session: sign in as a demo user and send its cookie.
session() {
  curl -fs -o /dev/null -D - -X POST "$base/api/login" --data-urlencode "email=$1" \
    --data-urlencode "password=$2" | sed -n 's/^set-cookie: \(sunfleet_session=[^;]*\).*/\1/ip'
}
admin=$(session admin@sunfleet.example demo-admin-password)
customer=$(session customer@sunfleet.example demo-customer-password)
device=$(curl -fs -X POST "$base/api/fleet" -H "Cookie: $admin" -d 'query=' | python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"][0]["id"])')
cat >"$dir/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = "query=well"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA
run() {
  local name=$1; shift
  echo "== $name"
  wrk --latency -t2 -c"${CONNS:-8}" -d"${DURATION:-10s}" "$@" | grep -E 'Requests/sec|^ +(50|99)%'
}
run "admin: fleet page (240 devices) GET /fleet" -H "Cookie: $admin" "$base/fleet"
run "admin: home GET /" -H "Cookie: $admin" "$base/"
run "admin: device page GET /devices/$device" -H "Cookie: $admin" "$base/devices/$device"
run "customer: home GET /" -H "Cookie: $customer" "$base/"
run "admin: fleet server fn POST /api/fleet query=well" -H "Cookie: $admin" -s "$dir/post.lua" "$base/api/fleet"
