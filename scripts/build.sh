#!/usr/bin/env bash
# Release build: the WASM front end first, then the server, which embeds the finished site
# (BUILD.md: building both at once can embed a stale or empty site).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
cargo leptos build --release --precompress --frontend-only
cargo leptos build --release --precompress --server-only
echo "built $SUNFLEET_BIN ($(du -h "$SUNFLEET_BIN" | cut -f1))"
