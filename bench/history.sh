#!/usr/bin/env bash
# Event history at scale: the release binary on a fresh SurrealKV directory with 5,000
# devices and EVENTS synthetic events over 90 days (default 10,000,000, written by
# `sunfleet seed --events`), then the history server function, one request at a time:
# the newest page for an admin (all events), a dealer (a subtree of orgs), one device, a
# rare kind (critical faults), a severity filter over every category (read from the
# severity's own lanes, schema step 12), one kind of event within its category, and a page deep in the past
# (a cursor 60 days back);
# p50/p99 with oha. Then the CSV export of one device's 90 days with hyperfine-like timing
# (curl, 5 runs).
#   bench/history.sh                  # run scripts/build.sh first
#   EVENTS=1000000 bench/history.sh   # quicker
#   KEEP=~/h10m bench/history.sh      # seed into ~/h10m once and keep it; later runs with
#                                     # the same KEEP skip the seeding (~1,500 events/s on
#                                     # 2 cores: about two hours at 10 M)
# Needs oha (crates.io, installed into the tools folder on first use), curl.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
if ! command -v oha >/dev/null 2>&1; then
  echo "installing oha from crates.io (once)…"
  cargo install oha --locked --root "$SUNFLEET_CACHE/tools" >/dev/null 2>&1
fi
port=${BENCH_PORT:-3997}
events=${EVENTS:-10000000}
queries=${QUERIES:-200}
pid=
if [ -n "${KEEP:-}" ]; then
  dir=$KEEP
  mkdir -p "$dir"
  trap 'kill $pid 2>/dev/null || true' EXIT
else
  dir=$(mktemp -d)
  trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
fi
db="surrealkv://$dir/db"
if [ -f "$dir/seeded" ]; then
  echo "reusing $(cat "$dir/seeded") ($(du -sh "$dir/db" | cut -f1) on disk)"
else
  rm -rf "$dir/db"
  start=$(date +%s)
  "$SUNFLEET_BIN" seed --devices 5000 --events "$events" --db "$db" \
    --ids-out "$dir/ids.txt" 2>&1 | grep --line-buffered -E "events: .*(00000|$events)/" || true
  echo "seeded 5000 devices and $events events in $(( $(date +%s) - start )) s ($(du -sh "$dir/db" | cut -f1) on disk)"
  SUNFLEET_NEW_PASSWORD=bench-password-123 "$SUNFLEET_BIN" user --db "$db" add \
    --email bench@sunfleet.example --persona admin --name Bench >/dev/null
  SUNFLEET_NEW_PASSWORD=bench-password-123 "$SUNFLEET_BIN" user --db "$db" add \
    --email dealer-bench@sunfleet.example --persona dealer --org rocky-mountain-pumps \
    --name Dealer >/dev/null
  [ -z "${KEEP:-}" ] || echo "5000 devices and $events events seeded $(date -u +%FT%TZ)" >"$dir/seeded"
fi
"$SUNFLEET_BIN" serve --addr "127.0.0.1:$port" --db "$db" >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.5
done
base="http://127.0.0.1:$port"
login() {
  curl -fs -o /dev/null -D - -X POST "$base/api/login" \
    --data-urlencode "email=$1" --data-urlencode "password=bench-password-123" |
    sed -n 's/^set-cookie: \(sunfleet_session=[^;]*\).*/\1/ip'
}
admin=$(login bench@sunfleet.example)
dealer=$(login dealer-bench@sunfleet.example)
device=$(head -n 1 "$dir/ids.txt")
echo "sunfleet $("$SUNFLEET_BIN" --version | cut -d' ' -f2), $(nproc) cores, $queries requests each, device $device"

summary() { # oha's text report → requests/s, p50, p99, status codes
  awk '/Requests\/sec:/ {rps=$2}
       function ms(v, unit) { return unit ~ /^sec/ ? v * 1000 : v }
       /^  50.00% in/ && !p50 {p50=ms($3, $4)} /^  99.00% in/ && !p99 {p99=ms($3, $4)}
       /\[[0-9][0-9][0-9]\] [0-9]+ responses/ {codes=codes " " $1 "×" $2}
       END {printf "  %.0f req/s, p50 %.1f ms, p99 %.1f ms,%s\n", rps, p50, p99, codes}'
}
page() {
  local name=$1 cookie=$2 query=$3
  echo "== history page (50 events), one at a time: $name"
  oha --no-tui -n "$queries" -c 1 -m POST -H "Cookie: $cookie" \
    -H "Content-Type: application/x-www-form-urlencoded" \
    -d "query=$query" "$base/api/history" | summary
}
deep=$(( ($(date +%s) - 60 * 86400) * 1000000000 ))
page "admin, all events, last 7 days" "$admin" ""
page "admin, all events, 60 days back (cursor)" "$admin" "range=90d%26before=${deep}~zzzzzzzzzzzzzzzzzzzz"
page "admin, critical faults, 90 days" "$admin" "range=90d%26severity=critical%26kind=faults"
page "admin, critical only (every category), 7 days" "$admin" "severity=critical"
page "admin, one device, 90 days" "$admin" "range=90d%26device=$device"
page "dealer (its customers' orgs), last 7 days" "$dealer" ""
page "dealer, commands only, 90 days" "$dealer" "range=90d%26kind=commands"
page "dealer, warnings and critical, 7 days" "$dealer" "severity=warning"
# One kind is read from its category's lane and filtered: a third of the commands here.
page "admin, one kind (command_acked), 7 days" "$admin" "kind=command_acked"
page "dealer, one kind (fault_cleared), 90 days" "$dealer" "range=90d%26kind=fault_cleared"
echo "== CSV export: one device, 90 days (5 runs)"
for _ in 1 2 3 4 5; do
  curl -fs -o "$dir/h.csv" -w "%{time_total}\n" -H "Cookie: $admin" \
    "$base/history.csv?range=90d&device=$device"
done | awk '{s+=$1; if ($1>m) m=$1} END {printf "  mean %.0f ms, max %.0f ms, ", s/NR*1000, m*1000}'
echo "$(( $(wc -l <"$dir/h.csv") - 1 )) events"
echo "server RSS at the end: $(( $(awk '/VmRSS/ {print $2}' /proc/$pid/status) / 1024 )) MB"
