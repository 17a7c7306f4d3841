#!/usr/bin/env bash
# How fast /healthz answers while scoring saturates the server: wrk keeps CONNECTIONS
# connections busy with 1,000-customer POST /v1/score requests, while /healthz is probed on a
# new connection every 100 ms (as a liveness probe would; benches/attacks.py probe). Prints healthz p50/p99/max next to the idle figures, scoring
# requests served and refused (503 overloaded), and the server's RSS.
#
#   benches/health_under_load.sh [DURATION_S] [CONNECTIONS...]   (default 20 s; 32 and 128)
#
# Needs wrk (Debian package). CUSTSEG_BIN=path runs another build (e.g. an older commit's).
set -euo pipefail

duration="${1:-20}"
shift || true
conns=("$@")
[ "${#conns[@]}" -gt 0 ] || conns=(32 128)
source "$(dirname "$0")/common.sh"
need_wrk
bench_setup
CUSTSEG_LOG=warn start_server --watch-interval-ms 0 --workers 2

customers_lua "$work/thousand.lua" 1000
health() { # duration → "HEALTH probes=… p50_ms=… p99_ms=… max_ms=… failures=…"
    python3 "$here/benches/attacks.py" "$port" "$models" "$server_pid" "$1" probe
}
rss() { ps -o rss= -p "$server_pid" | awk '{printf "%.1f MB", $1/1024}'; }

echo "machine: $(nproc) cores; server: $("$bin" --version 2>/dev/null || echo custseg), 2 HTTP workers"
echo "idle:              $(health 5)"
for c in "${conns[@]}"; do
    wrk -t2 -c"$c" -d"$((duration + 2))s" --timeout 20s -s "$work/thousand.lua" \
        "http://127.0.0.1:$port/v1/score" >"$work/load-$c.txt" 2>&1 &
    load=$!
    sleep 1
    h="$(health "$duration")"
    wait "$load"
    served="$(awk '/requests in/ {print $1}' "$work/load-$c.txt")"
    non2xx="$(awk '/Non-2xx/ {print $NF}' "$work/load-$c.txt")"
    echo "scoring at c=$c:   $h"
    echo "   1000-customer requests answered: ${served:-0}, of which not 200: ${non2xx:-0}; RSS $(rss)"
done
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^custseg_requests_total.*route="/v1/score"' | sed 's/^/   /'
