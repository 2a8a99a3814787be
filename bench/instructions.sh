#!/usr/bin/env bash
# CPU instructions per page request, counted by valgrind's callgrind: a yardstick for A/B
# comparisons of rendering changes. Pages/s on a shared 2-core machine swing by ±15 % from
# run to run with the same binary; this count repeats to within 2 %. It does not see cache
# misses (allocation-heavy code costs more time than its instructions say), so a change
# that it finds worthwhile still has to show in bench/pages.sh.
#   bench/instructions.sh                          # the Fleet page and a device page
#   URLS="/fleet /devices/DEVICE /history" N=300 bench/instructions.sh
#   SUNFLEET_BIN=/path/to/other/sunfleet bench/instructions.sh   # the other side of an A/B
# Same database as bench/pages.sh (5,000 devices, 30 days for 100), signed in as an admin;
# KEEP=dir seeds it once into dir and reuses it after. DEVICE in a URL is the first device.
# Needs valgrind (Debian package `valgrind`), oha (installed by bench/pages.sh) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
for tool in valgrind callgrind_control oha; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "bench/instructions.sh needs $tool (valgrind: apt-get install valgrind; oha: run bench/pages.sh once)" >&2
    exit 1
  }
done
port=${BENCH_PORT:-3992}
requests=${N:-200}
work=$(mktemp -d)
pid=
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
seeded=${KEEP:-$work/seed}
if [ ! -f "$seeded/ids.txt" ]; then
  mkdir -p "$seeded"
  "$SUNFLEET_BIN" seed --devices 5000 --days 30 --history-devices 100 --db "surrealkv://$seeded/db" \
    --ids-out "$seeded/ids.txt.part" >"$seeded/seed.log" 2>&1
  SUNFLEET_NEW_PASSWORD=bench-password-123 "$SUNFLEET_BIN" user --db "surrealkv://$seeded/db" add \
    --email bench@sunfleet.example --persona admin --name Bench >/dev/null
  mv "$seeded/ids.txt.part" "$seeded/ids.txt"
fi
device=$(head -n 1 "$seeded/ids.txt")
base="http://127.0.0.1:$port"

count() { # url → instructions per request, all threads of the server together
  local url=$1
  rm -rf "$work/db" "$work/out" && cp -r "$seeded/db" "$work/db" && mkdir "$work/out"
  if curl -fs "$base/readyz" >/dev/null 2>&1; then
    echo "something already answers on port $port (BENCH_PORT=… picks another)" >&2
    exit 1
  fi
  (cd "$work/out" && exec env -u RUST_BACKTRACE valgrind --tool=callgrind --cache-sim=no \
    --separate-threads=yes "$SUNFLEET_BIN" serve --addr "127.0.0.1:$port" \
    --db "surrealkv://$work/db" >"$work/log" 2>&1) &
  pid=$!
  for _ in $(seq 1 600); do curl -fs "$base/readyz" >/dev/null 2>&1 && break; sleep 1; done
  kill -0 "$pid" 2>/dev/null || { cat "$work/log" >&2; exit 1; }
  local cookie
  cookie=$(curl -fs -o /dev/null -D - -X POST "$base/api/login" \
    --data-urlencode "email=bench@sunfleet.example" --data-urlencode "password=bench-password-123" |
    sed -n 's/^set-cookie: \(sunfleet_session=[^;]*\).*/\1/ip')
  # Warm caches and let the start-up work (the first offline sweep) finish before counting.
  oha --no-tui -n 40 -c 8 -H "Cookie: $cookie" "$base$url" >/dev/null
  sleep "${SETTLE:-5}"
  callgrind_control --zero "$pid" >/dev/null 2>&1
  local ok
  ok=$(oha --no-tui -n "$requests" -c 8 -H "Cookie: $cookie" "$base$url" |
    awk '/\[200\]/ {print $2}')
  callgrind_control --dump "$pid" >/dev/null 2>&1
  # The dump is part 1, one file per thread; the files written at exit are left out.
  local total=0 v f
  for f in "$work"/out/callgrind.out.*.1-*; do
    v=$(awk '/^summary:/ {print $2; exit}' "$f")
    total=$((total + ${v:-0}))
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=
  awk -v url="$url" -v total="$total" -v n="$requests" -v ok="${ok:-0}" 'BEGIN {
    printf "%-50s %6.3f M instructions per request (%d of %d answered 200)\n", url, total / n / 1e6, ok, n }'
}

echo "sunfleet $("$SUNFLEET_BIN" --version | cut -d' ' -f2), $requests requests per page, 8 at a time"
for url in ${URLS:-/fleet /devices/DEVICE}; do
  count "${url//DEVICE/$device}"
done
