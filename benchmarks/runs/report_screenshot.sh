#!/usr/bin/env bash
# Render the HTML report in headless Chromium and save its front page as a PNG, to look at it.
#   benchmarks/runs/report_screenshot.sh [results/report.html] [results/report_front.png]
# Needs Debian's chromium (apt-get install chromium). The flags keep it off the network.
set -euo pipefail
report="$(realpath "${1:-results/report.html}")"
out="${2:-results/report_front.png}"
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --window-size=1400,1100 --virtual-time-budget=15000 \
  --screenshot="$out" "file://$report" 2>/dev/null
echo "$out"
