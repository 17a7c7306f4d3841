#!/usr/bin/env bash
# One command that shows a healthy server under every attack of the second security round,
# at bounded rates, for DURATION_S seconds (default 60), with the server at `ulimit -n 1024`:
#   - legitimate clients: 4 connections of 1-customer POST /v1/score (every answer must be a
#     200 naming a model version);
#   - a heavy client: 32 connections of 1,000-customer requests (503 overloaded allowed);
#   - benches/attacks.py: made-up methods, 1 byte/s bodies (Content-Length and chunked),
#     stalled 1 MB uploads, idle sockets, and store chaos (garbage CURRENT, FIFO metrics.json,
#     2 GB sparse model.json, SIGHUP), while /healthz is probed on a new connection every
#     100 ms.
# Prints legitimate requests served and failed, healthz p50/p99/max, RSS before, at peak and
# after, and the size of /metrics. Exit 1 if a legitimate request or a health probe failed or
# the server died.
#
#   benches/attack_soak.sh [DURATION_S]
#
# Needs wrk (Debian package) and python3. CUSTSEG_BIN=path runs another build.
set -euo pipefail

duration="${1:-60}"
source "$(dirname "$0")/common.sh"
need_wrk
bench_setup
cp -r "$models/default" "$models/other"
ulimit -n 1024
CUSTSEG_LOG=warn start_server --watch-interval-ms 500 --workers 2
rss_kb() { ps -o rss= -p "$server_pid" | tr -d ' '; }
mb() { awk -v k="$1" 'BEGIN {printf "%.1f MB", k/1024}'; }
rss_before="$(rss_kb)"

customers_lua "$work/legit.lua" 1
cat >>"$work/legit.lua" <<'LUA'
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0 end
function response(status, headers, body)
  if status ~= 200 or body:match('"version":%d+') == nil then bad = bad + 1 end
end
function done(summary, latency, requests)
  local total_bad = 0
  for _, t in ipairs(threads) do total_bad = total_bad + t:get("bad") end
  io.write(string.format("LEGIT requests=%d bad=%d socket_errors=%d p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, total_bad,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
LUA
customers_lua "$work/heavy.lua" 1000

wrk -t1 -c4 -d"${duration}s" --timeout 10s -s "$work/legit.lua" \
    "http://127.0.0.1:$port/v1/score" >"$work/legit.txt" 2>&1 &
legit=$!
wrk -t1 -c32 -d"${duration}s" --timeout 20s -s "$work/heavy.lua" \
    "http://127.0.0.1:$port/v1/score" >"$work/heavy.txt" 2>&1 &
heavy=$!
python3 "$here/benches/attacks.py" "$port" "$models" "$server_pid" "$duration" >"$work/attacks.txt" 2>&1 &
attacks=$!
sleep 2 # the attacks are under way before health is measured
python3 "$here/benches/attacks.py" "$port" "$models" "$server_pid" "$((duration - 3))" probe \
    >"$work/health.txt" 2>&1 &
probe=$!
peak="$rss_before"
while kill -0 "$attacks" 2>/dev/null; do
    r="$(rss_kb || echo 0)"
    [ "${r:-0}" -gt "$peak" ] && peak="$r"
    sleep 1
done
wait "$legit" "$heavy" || true
wait "$attacks" "$probe" || true
sleep 6 # idle connections reach their deadline; freed memory is returned
alive=yes
kill -0 "$server_pid" 2>/dev/null || alive=no
rss_after="$(rss_kb || echo 0)"
metrics_bytes="$(curl -s "http://127.0.0.1:$port/metrics" | wc -c)"

echo "machine: $(nproc) cores; server at ulimit -n 1024, 2 HTTP workers; $duration s"
grep -h '^LEGIT' "$work/legit.txt" || { echo "legit load failed:"; cat "$work/legit.txt"; }
echo "heavy client: $(awk '/requests in/ {print $1}' "$work/heavy.txt") requests answered, $(awk '/Non-2xx/ {print $NF}' "$work/heavy.txt" | grep . || echo 0) not 200"
grep -h '^ATTACKS' "$work/attacks.txt" || { echo "attacks failed:"; cat "$work/attacks.txt"; }
grep -h '^HEALTH' "$work/health.txt" || { echo "health probe failed:"; cat "$work/health.txt"; }
echo "RSS before $(mb "$rss_before"), peak $(mb "$peak"), 6 s after $(mb "$rss_after"); /metrics $metrics_bytes bytes; server alive: $alive"
echo "server answers by route and status:"
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^custseg_(requests_total|reloads_total)' | sed 's/^/   /' || true

bad="$(sed -n 's/^LEGIT.* bad=\([0-9]*\) socket_errors=\([0-9]*\).*/\1 \2/p' "$work/legit.txt")"
hfail="$(sed -n 's/^HEALTH.* failures=\([0-9]*\).*/\1/p' "$work/health.txt")"
if [ "$alive" != yes ] || [ "${bad:-x}" != "0 0" ] || [ "${hfail:-x}" != 0 ]; then
    echo "FAILED: legitimate failures (bad, socket errors): ${bad:-none}; health failures: ${hfail:-none}; alive: $alive"
    exit 1
fi
echo "OK: every legitimate request and health probe succeeded"
