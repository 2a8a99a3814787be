# Sourced by the other scripts: where the toolchain and the build live. Everything heavy
# sits outside the clone (BUILD.md) so fresh clones on the same machine build warm.
SUNFLEET_CACHE=${SUNFLEET_CACHE:-$HOME/.cache/sunfleet}
export SUNFLEET_CACHE
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$SUNFLEET_CACHE/target}
export PATH="$SUNFLEET_CACHE/tools/bin:$SUNFLEET_CACHE/node/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# Playwright must use Debian's Chromium, never download its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
export SUNFLEET_BIN="${SUNFLEET_BIN:-$CARGO_TARGET_DIR/release/sunfleet}"
