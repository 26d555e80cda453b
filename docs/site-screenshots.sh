#!/usr/bin/env bash
# Regenerate docs/site-home.png and docs/site-guide.png: the documentation site, built and served
# locally, rendered by headless Chromium.
#   bash docs/site-screenshots.sh      (needs pip install -e ".[docs]" and Debian's chromium)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
NO_MKDOCS_2_WARNING=1 mkdocs build --strict --quiet --config-file "$root/mkdocs.yml" --site-dir "$work/site"
port=$(python -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
python -m http.server "$port" --bind 127.0.0.1 --directory "$work/site" >/dev/null 2>&1 &
server=$!
trap 'kill $server; rm -rf "$work"' EXIT
sleep 1
shot() {
  chromium --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$work/profile" \
    --window-size=1280,1000 --screenshot="$root/docs/$1" "http://127.0.0.1:$port/$2" 2>/dev/null
}
shot site-home.png ""
shot site-guide.png "guides/before-training/"
echo "wrote docs/site-home.png and docs/site-guide.png"
