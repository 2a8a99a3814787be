#!/usr/bin/env bash
# Page and API latency against the release binary on a fresh demo database.
#   bench/pages.sh            # builds nothing; run scripts/build.sh first
# Needs wrk (Debian package `wrk`). Prints p50/p99 latency and requests/s for the fleet
# page, a device page, and the Fleet server function.
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
device=$(curl -fs -X POST "$base/api/fleet" -d 'query=' | python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"][0]["id"])')
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
run "fleet page (240 devices) GET /" "$base/"
run "device page GET /devices/$device" "$base/devices/$device"
run "fleet server fn POST /api/fleet query=well" -s "$dir/post.lua" "$base/api/fleet"
