#!/usr/bin/env bash
# Screenshots a model version's report.html with headless Chromium.
#
#   scripts/report_screenshot.sh [MODEL_VERSION_DIR] [OUT.png]
#
# Without MODEL_VERSION_DIR it trains the bundled sample (data/sample with data/sample/demo.toml,
# as `custseg demo --no-serve` does) into a temporary model store and shoots that version.
# OUT.png defaults to report.png in the current folder. Installs Debian's chromium when
# /usr/bin/chromium is missing (needs root). Fails when the PNG is missing or tiny.
# Environment: CUSTSEG_BIN (a built custseg; default: cargo build --release),
# WINDOW (default 1400,4000).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version_dir="${1:-}"
out="${2:-report.png}"
window="${WINDOW:-1400,4000}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ -z "$version_dir" ]; then
    bin="${CUSTSEG_BIN:-}"
    if [ -z "$bin" ]; then
        (cd "$here" && cargo build --release --quiet)
        bin="${CARGO_TARGET_DIR:-$here/target}/release/custseg"
    fi
    (cd "$here" && "$bin" demo --models-dir "$work/models" --no-serve >/dev/null)
    version_dir="$(ls -d "$work"/models/default/v* | sort -V | tail -n 1)"
fi

report="$(cd "$version_dir" && pwd)/report.html"
if [ ! -f "$report" ]; then
    echo "error: $report not found" >&2
    exit 1
fi

if [ ! -x /usr/bin/chromium ]; then
    echo "installing chromium (Debian package)…" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq chromium >/dev/null
fi

case "$out" in
    /*) ;;
    *) out="$PWD/$out" ;;
esac
rm -f "$out"
/usr/bin/chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$work/profile" --window-size="$window" \
    --screenshot="$out" "file://$report" >"$work/chromium.log" 2>&1 || {
    cat "$work/chromium.log" >&2
    exit 1
}

size=$(stat -c %s "$out" 2>/dev/null || echo 0)
if [ "$size" -lt 20000 ]; then
    echo "error: screenshot $out is missing or tiny ($size bytes)" >&2
    cat "$work/chromium.log" >&2
    exit 1
fi
echo "$out ($size bytes) from $report"
