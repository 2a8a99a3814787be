#!/usr/bin/env bash
# Installs whatever the build and tests need and is missing. Idempotent: a second run only
# checks. Sources: rustup, crates.io, npm, Debian apt (nothing else is reachable or allowed).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
mkdir -p "$SUNFLEET_CACHE/tools" "$SUNFLEET_CACHE/node"

step() { printf '\n== setup: %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "rustup target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# cargo-leptos 0.3.10: 0.3.11 needs a newer rustc; no_downloads turns a missing tool into an
# error instead of a GitHub download (BUILD.md).
if ! cargo-leptos --version 2>/dev/null | grep -q '0\.3\.10'; then
  step "cargo-leptos 0.3.10 (about 17 minutes, once per machine)"
  cargo install cargo-leptos --version 0.3.10 --locked --features no_downloads \
    --root "$SUNFLEET_CACHE/tools"
fi

# Must equal the wasm-bindgen crate version pinned in Cargo.toml.
if ! wasm-bindgen --version 2>/dev/null | grep -q '0\.2\.130'; then
  step "wasm-bindgen-cli 0.2.130"
  cargo install wasm-bindgen-cli --version 0.2.130 --root "$SUNFLEET_CACHE/tools"
fi

# wasm-opt for release builds; Debian's binaryen is too old.
if ! [ -x "$SUNFLEET_CACHE/node/node_modules/.bin/wasm-opt" ]; then
  step "binaryen 132 (wasm-opt) from npm"
  (cd "$SUNFLEET_CACHE/node" && npm install --no-audit --no-fund --no-save binaryen@132.0.0)
fi

if ! command -v chromium >/dev/null 2>&1; then
  step "chromium from Debian"
  sudo_=""
  [ "$(id -u)" -ne 0 ] && sudo_="sudo"
  $sudo_ apt-get update
  $sudo_ apt-get install -y --no-install-recommends chromium
fi

# Reinstall only when the lock file changed since the last install.
if ! cmp -s end2end/package-lock.json end2end/node_modules/.sunfleet-installed-lock; then
  step "end2end npm packages"
  (cd end2end && npm ci --no-audit --no-fund && cp package-lock.json node_modules/.sunfleet-installed-lock)
fi
# Browser libraries served by sunfleet (copied into public/vendor by scripts/vendor.sh).
if ! cmp -s vendor/package-lock.json vendor/node_modules/.sunfleet-installed-lock; then
  step "vendored browser libraries (leaflet, markercluster, echarts) from npm"
  (cd vendor && npm ci --no-audit --no-fund && cp package-lock.json node_modules/.sunfleet-installed-lock)
fi
scripts/vendor.sh
echo "setup: all tools present"
