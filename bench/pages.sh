#!/usr/bin/env bash
# Page, chart-query and front-end benchmarks against the release binary on a fresh SurrealKV
# directory with 5,000 devices, 30 days of history for 100 of them (seeded by
# `sunfleet seed`), signed in as an admin.
#   bench/pages.sh            # run scripts/build.sh first
#   DURATION=30s bench/pages.sh
# 1. open loop (oha -q, --latency-correction: no coordinated omission): the fleet page and a
#    device page at 250 pages/s each, p50/p99;
# 2. closed loop: peak pages/s at 64 connections;
# 3. chart queries (the series server function, one at a time): one device over 24 h, 30 d
#    and 1 y, the whole fleet over 24 h (power, and the chart page's max temperature and
#    speed), p50/p99; then the open loop of step 1 again while
#    the fleet simulator posts every device's reading once a minute;
# 4. the front end: WASM + JS (brotli, as served) and the time until the map with 5,000
#    markers is drawn in headless Chromium.
# Needs oha (crates.io, installed into the tools folder on first use), curl, python3,
# brotli (Debian package `brotli`) and the end2end npm packages (scripts/setup.sh) for step 4.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
if ! command -v brotli >/dev/null 2>&1; then
  echo "bench/pages.sh needs brotli to measure the front end: apt-get install brotli" >&2
  exit 1
fi
if ! command -v oha >/dev/null 2>&1; then
  echo "installing oha from crates.io (once)…"
  cargo install oha --locked --root "$SUNFLEET_CACHE/tools" >/dev/null 2>&1
fi
port=${BENCH_PORT:-3998}
duration=${DURATION:-20s}
dir=$(mktemp -d)
pid=
simulator=
trap 'kill $pid $simulator 2>/dev/null || true; rm -rf "$dir"' EXIT
db="surrealkv://$dir/db"
start=$(date +%s)
"$SUNFLEET_BIN" seed --devices 5000 --days 30 --history-devices 100 --db "$db" \
  --ids-out "$dir/ids.txt" >"$dir/seed.log" 2>&1
echo "seeded 5000 devices, 30 days for 100 of them, in $(( $(date +%s) - start )) s"
SUNFLEET_NEW_PASSWORD=bench-password-123 "$SUNFLEET_BIN" user --db "$db" add \
  --email bench@sunfleet.example --persona admin --name Bench >/dev/null
"$SUNFLEET_BIN" serve --addr "127.0.0.1:$port" --db "$db" >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 1 240); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.5
done
base="http://127.0.0.1:$port"
cookie=$(curl -fs -o /dev/null -D - -X POST "$base/api/login" \
  --data-urlencode "email=bench@sunfleet.example" --data-urlencode "password=bench-password-123" |
  sed -n 's/^set-cookie: \(sunfleet_session=[^;]*\).*/\1/ip')
device=$(head -n 1 "$dir/ids.txt")
echo "sunfleet $("$SUNFLEET_BIN" --version | cut -d' ' -f2), $(nproc) cores, $duration per run, device $device"

summary() { # oha's text report → success rate, requests/s, p50, p99, status codes
  tee -a "${RAW:-/dev/null}" |
    awk '/Success rate:/ {ok=$3} /Requests\/sec:/ {rps=$2}
         function ms(v, unit) { return unit ~ /^sec/ ? v * 1000 : v }
         /^  50.00% in/ && !p50 {p50=ms($3, $4)} /^  99.00% in/ && !p99 {p99=ms($3, $4)}
         /\[[0-9][0-9][0-9]\] [0-9]+ responses/ {codes=codes " " $1 "×" $2}
         END {printf "  %.0f req/s, p50 %.1f ms, p99 %.1f ms, success %s,%s\n", rps, p50, p99, ok, codes}'
}
# A pause before each run: the previous run's cut-off connections are still being answered.
open_loop() {
  local name=$1 url=$2
  sleep 2
  echo "== open loop, 250 pages/s: $name"
  oha --no-tui -z "$duration" -q 250 --latency-correction -c 64 -H "Cookie: $cookie" "$url" | summary
}
closed_loop() {
  local name=$1 url=$2
  sleep 2
  echo "== closed loop, 64 connections: $name"
  oha --no-tui -z "$duration" -c 64 -H "Cookie: $cookie" "$url" | summary
}
# Warm the fleet snapshot and the caller cache.
curl -fs -o /dev/null -H "Cookie: $cookie" "$base/fleet"
open_loop "fleet page GET /fleet" "$base/fleet"
open_loop "device page GET /devices/$device" "$base/devices/$device"
closed_loop "fleet page GET /fleet" "$base/fleet"
closed_loop "fleet page, filtered and sorted" "$base/fleet?status=online&sort=solar&dir=desc&page=3"
closed_loop "device page GET /devices/$device" "$base/devices/$device"

series() {
  local name=$1 body=$2
  echo "== chart query, one at a time: $name"
  oha --no-tui -n "${QUERIES:-200}" -c 1 -m POST -H "Cookie: $cookie" \
    -H "Content-Type: application/x-www-form-urlencoded" -d "$body" "$base/api/series" | summary
}
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ago() { date -u -d "$1 ago" +%Y-%m-%dT%H:%M:%SZ; }
series "one device, 24 h" "device=$device&from=$(ago '24 hours')&to=$now"
series "one device, 30 d" "device=$device&from=$(ago '30 days')&to=$now"
series "one device, 1 y" "device=$device&from=$(ago '365 days')&to=$now"
series "whole fleet, 24 h" "from=$(ago '24 hours')&to=$now"
# The chart page's own query: a fleet's temperature and speed (read from every device's
# rollup and summed up by the server, unlike power, which SurrealDB sums).
echo "== chart query, one at a time: whole fleet, 24 h, max temperature and rpm"
oha --no-tui -n "${QUERIES:-200}" -c 1 -m POST -H "Cookie: $cookie" \
  -H "Content-Type: application/x-www-form-urlencoded" \
  -d "config=m%3Dtemperature%2Crpm%26agg%3Dmax%26range%3D24h&viewer_tz=UTC" \
  "$base/api/chart" | summary

# The open loop again while the whole fleet posts once a minute (83 readings/s), as it does
# in the field: every reading changes a status the Fleet page shows. After the chart queries,
# whose numbers stay comparable with a fleet where only the seeded 100 devices have history.
"$SUNFLEET_BIN" simulate --url "$base" --devices 5000 --rate 1/min --duration 1h --quiet \
  >"$dir/simulate.log" 2>&1 &
simulator=$!
sleep 5
open_loop "fleet page GET /fleet, live fleet posting" "$base/fleet"
open_loop "device page GET /devices/$device, live fleet posting" "$base/devices/$device"
kill "$simulator" 2>/dev/null || true

echo "== front end, brotli as served"
site=${SUNFLEET_SITE_DIR:-target/site}
size() { wc -c <"$1"; }
wasm=$(size "$site/pkg/sunfleet.wasm.br")
js=$(size "$site/pkg/sunfleet.js.br")
maplibs=$(brotli -c -q 11 public/vendor/leaflet/leaflet.js | wc -c)
cluster=$(brotli -c -q 11 public/vendor/markercluster/leaflet.markercluster.js | wc -c)
echo "  wasm $((wasm / 1024)) KB + js $((js / 1024)) KB = $(((wasm + js) / 1024)) KB on every page;"
echo "  the map adds leaflet $((maplibs / 1024)) KB + markercluster $((cluster / 1024)) KB (loaded on first use)"
if [ -d end2end/node_modules/playwright-core ]; then
  echo "== map with 5,000 markers in headless Chromium"
  BASE="$base" COOKIE="$cookie" node bench/map-time.mjs
fi
