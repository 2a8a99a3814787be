#!/usr/bin/env bash
# Release build: the WASM front end first, then the server, which embeds the finished site
# (BUILD.md: building both at once can embed a stale or empty site).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
scripts/vendor.sh

# cargo-leptos regenerates (and re-timestamps) the whole site on every run, which would
# relink the server each time. Skip the front end when none of its inputs changed.
front_inputs=$(find app/src frontend style public Cargo.toml Cargo.lock .cargo \
  third_party/tachys third_party/leptos_macro -type f -print0 |
  sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
stamp=target/site/.front-inputs
if [ -f target/site/pkg/sunfleet.wasm ] && [ "$(cat "$stamp" 2>/dev/null)" = "$front_inputs" ]; then
  echo "front end unchanged, not rebuilding it"
else
  cargo leptos build --release --precompress --frontend-only
  echo "$front_inputs" >"$stamp"
fi
cargo leptos build --release --precompress --server-only
echo "built $SUNFLEET_BIN ($(du -h "$SUNFLEET_BIN" | cut -f1))"
