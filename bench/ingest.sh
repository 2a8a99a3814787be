#!/usr/bin/env bash
# Ingest throughput against the release binary on a fresh SurrealKV directory with 5,000
# registered devices: after a first pass over the fleet, accepted readings/s and ack latency
# on the Particle webhook at 64 and 512 connections (wrk + bench/particle.lua, one new
# reading per request), then the fleet simulator at full speed, then the server's RSS (at the
# end, once idle, and its peak).
#   bench/ingest.sh              # run scripts/build.sh first
#   DURATION=60s bench/ingest.sh
# Needs wrk (Debian package `wrk`).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
port=${BENCH_PORT:-3997}
duration=${DURATION:-30s}
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
if curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
  echo "something already answers on port $port: stop it or set BENCH_PORT" >&2
  exit 1
fi
"$SUNFLEET_BIN" seed --devices 5000 --days 0 --db "surrealkv://$dir/db" --ids-out "$dir/ids.txt" >/dev/null 2>&1
"$SUNFLEET_BIN" serve --addr "127.0.0.1:$port" --db "surrealkv://$dir/db" >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 1 120); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.5
done
# Another server on the port would answer instead of this one (and this one would be gone).
kill -0 "$pid" 2>/dev/null || { echo "the server did not start: $(tail -3 "$dir/log")" >&2; exit 1; }
base="http://127.0.0.1:$port"
echo "sunfleet $("$SUNFLEET_BIN" --version | cut -d' ' -f2), 5000 devices, $(nproc) cores, $duration per run"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; } # user + system, 1/100 s
# The server's share of the two cores it shares with wrk, and its CPU per reading: a run
# that leaves CPU idle is held up by the commit chain, not by the server's CPU.
wrk_run() { # DAYS_AGO CONNECTIONS DURATION
  local before start out
  before=$(cpu_ticks)
  start=$(date +%s%N)
  out=$(BASE_DAYS_AGO=$1 IDS_FILE="$dir/ids.txt" THREADS=2 wrk -t2 -c"$2" -d"$3" --timeout 10s \
    -s bench/particle.lua "$base" | grep -E 'accepted/s')
  echo "$out" | awk -v ticks=$(($(cpu_ticks) - before)) -v ns=$(($(date +%s%N) - start)) '{
    cpu = ticks / (ns / 1e9); printf "%s; server CPU %d %% of a core, %.0f µs per reading\n",
      $0, cpu, cpu * 10000 / ($2 > 0 ? $2 : 1) }'
}
# A device's first reading costs more than the rest: its state is loaded and its "first
# reading received" event written. Reported apart, so the runs below measure the sustained
# rate of a fleet that has been heard from.
echo "== first pass over the fleet (every device's first reading), wrk, 64 connections, 4 s"
wrk_run 40 64 4s
# Heard from means stored too: the writer flushes latest statuses at most every 10 s, and
# until a device's status is stored each of its readings also goes into the crash journal.
sleep 11
days_ago=30
for conns in 64 512; do
  echo "== Particle webhook, wrk, $conns connections"
  # Each run starts 10 days after the previous one's readings, so every reading is new.
  wrk_run "$days_ago" "$conns" "$duration"
  days_ago=$((days_ago - 10))
done
echo "== fleet simulator, --rate max, 64 connections (Particle path, 1% repeats, 1% reordered)"
"$SUNFLEET_BIN" simulate --url "$base" --devices 5000 --rate max --duration "$duration" --quiet
# Right at the end the writer is still flushing the last readings' rollups and the allocator
# returns freed memory after 1 s, so the footprint is also read once the server is idle.
rss_mb() { echo $(( $(awk "/^$1:/ {print \$2}" "/proc/$pid/status") / 1024 )); }
echo "== server RSS at the end: $(rss_mb VmRSS) MB"
sleep 3
echo "== server RSS 3 s later: $(rss_mb VmRSS) MB, peak during the runs: $(rss_mb VmHWM) MB"
echo "== server log warnings: $(grep -c WARN "$dir/log" || true)"
grep WARN "$dir/log" | head -3 || true
