#!/usr/bin/env bash
# Regenerate docs/report-digits.png: the README's demo scan, rendered by headless Chromium.
#   bash docs/screenshot.sh        (needs dataaudit installed and Debian's chromium)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python "$root/examples/make_demo_data.py" "$work/demo" >/dev/null
dataaudit scan "$work/demo/X.npy" "$work/demo/y.npy" --test-x "$work/demo/X_test.npy" \
  --test-y "$work/demo/y_test.npy" --out "$work/audit" --quiet >/dev/null
chromium --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$work/profile" \
  --window-size=1280,2000 --screenshot="$root/docs/report-digits.png" "file://$work/audit/report.html" 2>/dev/null
echo "wrote docs/report-digits.png"
