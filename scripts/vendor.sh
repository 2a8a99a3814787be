#!/usr/bin/env bash
# Copies the browser libraries sunfleet serves (Leaflet, leaflet.markercluster, ECharts) from
# vendor/node_modules into public/vendor, where the build embeds them. Installed from npm by
# scripts/setup.sh against vendor/package-lock.json; never fetched from a CDN.
set -euo pipefail
cd "$(dirname "$0")/.."
src=vendor/node_modules
if ! [ -f "$src/leaflet/dist/leaflet.js" ]; then
  echo "vendor: $src is missing; run scripts/setup.sh first" >&2
  exit 1
fi
out=public/vendor
mkdir -p "$out/leaflet/images" "$out/markercluster" "$out/echarts"
copy() { cmp -s "$1" "$2" || cp "$1" "$2"; }
copy "$src/leaflet/dist/leaflet.js" "$out/leaflet/leaflet.js"
copy "$src/leaflet/dist/leaflet.css" "$out/leaflet/leaflet.css"
for f in "$src"/leaflet/dist/images/*; do copy "$f" "$out/leaflet/images/$(basename "$f")"; done
copy "$src/leaflet.markercluster/dist/leaflet.markercluster.js" "$out/markercluster/leaflet.markercluster.js"
copy "$src/leaflet.markercluster/dist/MarkerCluster.css" "$out/markercluster/MarkerCluster.css"
copy "$src/leaflet.markercluster/dist/MarkerCluster.Default.css" "$out/markercluster/MarkerCluster.Default.css"
# The "common" build has every chart type sunfleet draws (line, bar) at a third of the size.
copy "$src/echarts/dist/echarts.common.min.js" "$out/echarts/echarts.common.min.js"
copy "$src/leaflet/LICENSE" "$out/leaflet/LICENSE"
copy "$src/leaflet.markercluster/MIT-LICENCE.txt" "$out/markercluster/LICENSE"
copy "$src/echarts/LICENSE" "$out/echarts/LICENSE"
