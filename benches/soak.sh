#!/usr/bin/env bash
# Sustained load on POST /v1/score while models are retrained, promoted, and broken versions
# are dropped in. Fails (exit 1) if any request did not get a 200 naming its model version, if
# a broken version was ever served, or if the server counted a 5xx.
#
#   benches/soak.sh [DURATION_S] [CONNECTIONS]      (default 120 s, 16 connections)
#
# Needs wrk (Debian package). Prints requests held, errors, reloads survived, p50/p99/p999
# latency, and the server's RSS before and after.
set -euo pipefail

duration="${1:-120}"
connections="${2:-16}"
source "$(dirname "$0")/common.sh"
need_wrk
bench_setup
CUSTSEG_LOG=warn start_server --watch-interval-ms 100
rss() { ps -o rss= -p "$server_pid" | awk '{printf "%.1f MB", $1/1024}'; }
rss_before="$(rss)"

cat >"$work/soak.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"customers":[{"customer_id":"c1","recency_days":12,"frequency":9,"monetary":1420.5,"avg_order_value":157.8,"tenure_days":610,"age":41,"gender":"F","annual_income":72000,"occupation":"Manager","region":"North","signup_channel":"app"}]}'
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0; versions = {} end
function response(status, headers, body)
  local v = body:match('"version":(%d+)')
  if status ~= 200 or v == nil then
    bad = bad + 1
  else
    versions[v] = true
  end
end
function done(summary, latency, requests)
  local total_bad = 0
  local seen = {}
  for _, t in ipairs(threads) do
    total_bad = total_bad + t:get("bad")
    for v, _ in pairs(t:get("versions")) do seen[v] = true end
  end
  local list = {}
  for v, _ in pairs(seen) do table.insert(list, tonumber(v)) end
  table.sort(list)
  io.write(string.format("SOAK requests=%d bad=%d socket_errors=%d p50_us=%.0f p99_us=%.0f p999_us=%.0f versions=%s\n",
    summary.requests, total_bad,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), table.concat(list, ",")))
end
LUA

wrk -t1 -c"$connections" -d"${duration}s" --timeout 10s -s "$work/soak.lua" \
    "http://127.0.0.1:$port/v1/score" >"$work/wrk.txt" 2>&1 &
wrk_pid=$!

# While the load runs: retrain + promote, then drop in broken versions, in turns.
good=(1) broken=() round=0
end=$((SECONDS + duration - 3))
while [ "$SECONDS" -lt "$end" ]; do
    round=$((round + 1))
    "$bin" train --transactions data/sample/transactions.csv --customers data/sample/customers.csv \
        --config data/sample/demo.toml --seed "$round" --n-init 2 --models-dir "$models" >/dev/null
    v="$(cat "$models/default/CURRENT" | tr -dc 0-9)"
    good+=("$v")
    sleep 1
    # A broken version appears (corrupt, truncated or a future format) and CURRENT names it.
    next=$((v + 1))
    mkdir "$models/default/v$next"
    case $((round % 3)) in
        0) printf '\x00garbage' >"$models/default/v$next/model.json" ;;
        1) head -c 2000 "$models/default/v$v/model.json" >"$models/default/v$next/model.json" ;;
        2) sed 's/"format_version": 1/"format_version": 99/' "$models/default/v$v/model.json" \
               >"$models/default/v$next/model.json" ;;
    esac
    broken+=("$next")
    printf 'v%s\n' "$next" >"$models/default/CURRENT.tmp" && mv "$models/default/CURRENT.tmp" "$models/default/CURRENT"
    sleep 1
    # Back to the good one: the registry's promote (the broken folder is left, never served).
    "$bin" models promote default "v$v" --models-dir "$models" >/dev/null
    sleep 1
done
wait "$wrk_pid"

summary="$(grep '^SOAK' "$work/wrk.txt" || true)"
metrics="$(curl -s "http://127.0.0.1:$port/metrics")"
count() { echo "$metrics" | awk -v re="$1" '$0 ~ re {s += $2} END {print s + 0}'; }
five_xx="$(count '^custseg_requests_total.*status="5')"
reload_ok="$(count '^custseg_reloads_total.*result="ok"')"
reload_failed="$(count '^custseg_reloads_total.*result="failed"')"
echo "machine: $(nproc) cores; load: wrk -t1 -c$connections -d${duration}s POST /v1/score (1 customer)"
echo "$summary"
echo "good versions trained and promoted during the run: ${good[*]}"
echo "broken versions dropped in: ${broken[*]:-none}"
echo "server: reloads ok $reload_ok, reloads refused $reload_failed, 5xx $five_xx"
echo "server RSS before: $rss_before, after: $(rss)"

fail=0
[ -n "$summary" ] || { echo "FAIL: wrk printed no summary"; fail=1; }
bad="$(echo "$summary" | sed -n 's/.* bad=\([0-9]*\).*/\1/p')"
sock="$(echo "$summary" | sed -n 's/.*socket_errors=\([0-9]*\).*/\1/p')"
[ "${bad:-1}" = 0 ] || { echo "FAIL: $bad responses were not a 200 naming a version"; fail=1; }
[ "${sock:-1}" = 0 ] || { echo "FAIL: $sock socket errors"; fail=1; }
[ "$five_xx" = 0 ] || { echo "FAIL: the server answered 5xx"; fail=1; }
served="$(echo "$summary" | sed -n 's/.*versions=\([0-9,]*\).*/\1/p')"
for b in "${broken[@]:-}"; do
    [ -z "$b" ] && continue
    if echo ",$served," | grep -q ",$b,"; then echo "FAIL: broken v$b was served"; fail=1; fi
done
[ "$fail" = 0 ] && echo "OK: every request answered 200 by a valid version"
exit "$fail"
