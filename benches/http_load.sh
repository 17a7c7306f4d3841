#!/usr/bin/env bash
# Load test of the HTTP scorer on loopback with wrk (Debian package `wrk`).
#
#   benches/http_load.sh [DURATION_S] [CONNECTIONS]
#
# Builds the release binary, trains the bundled sample into a temporary model store, starts
# `custseg serve` on a free port, then runs wrk against /healthz (the web stack's floor),
# POST /v1/score with 1 customer per request (features; once over a single connection for
# unloaded latency), 1 customer with raw transactions, and 100 customers per request. Prints wrk's latency distribution and requests/s for each.
# Bounded in time: each run lasts DURATION_S seconds (default 15). With FASTAPI=1 it also runs
# the same scoring job served by FastAPI + scikit-learn (benches/fastapi_app.py, venv from
# benches/compare_sklearn.sh) under the same load, for comparison.
set -euo pipefail

duration="${1:-15}"
connections="${2:-32}"
threads="${WRK_THREADS:-1}"
source "$(dirname "$0")/common.sh"
need_wrk
bench_setup
start_server --watch-interval-ms 0 ${SERVER_WORKERS:+--workers "$SERVER_WORKERS"}

# wrk scripts: one fixed body per scenario.
customers_lua "$work/one.lua" 1
cat >"$work/raw.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local t = {}
for i = 1, 12 do
  t[#t + 1] = string.format('{"date":"2025-%02d-15","amount":%d.5,"order_id":"o%d"}', i, 20 + 7 * i, i)
end
wrk.body = '{"as_of":"2026-01-01","customers":[{"customer_id":"c1","age":41,"gender":"F","annual_income":72000,"occupation":"Manager","region":"North","signup_channel":"app","transactions":[' .. table.concat(t, ",") .. ']}]}'
LUA
customers_lua "$work/hundred.lua" 100

run() {
    local name="$1" conns="$2"; shift 2
    echo "== $name: wrk -t$threads -c$conns -d${duration}s --latency $*"
    wrk -t"$threads" -c"$conns" -d"${duration}s" --latency "$@" | sed 's/^/   /'
}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "server: custseg serve (workers: ${SERVER_WORKERS:-one per core}), model: bundled sample, k = $(curl -s "http://127.0.0.1:$port/v1/models" | python3 -c 'import json,sys; print(json.load(sys.stdin)["models"][0]["k"])')"
score="http://127.0.0.1:$port/v1/score"
run "GET /healthz" "$connections" "http://127.0.0.1:$port/healthz"
run "POST /v1/score, 1 customer (features), one connection: latency" 1 -s "$work/one.lua" "$score"
run "POST /v1/score, 1 customer (features)" "$connections" -s "$work/one.lua" "$score"
run "POST /v1/score, 1 customer (12 raw transactions)" "$connections" -s "$work/raw.lua" "$score"
run "POST /v1/score, 100 customers (features)" "$connections" -s "$work/hundred.lua" "$score"
if [ "${FASTAPI:-0}" = 1 ]; then
    # The same job in FastAPI + scikit-learn (venv from benches/compare_sklearn.sh).
    venv="${CUSTSEG_BENCH_CACHE:-$HOME/.cache/custseg}/bench-venv"
    "$venv/bin/python" -c "import fastapi, uvloop, httptools" 2>/dev/null \
        || "$venv/bin/pip" install --quiet fastapi "uvicorn[standard]"
    fport="$(free_port)"
    model_json="$(ls -d "$models"/default/v*/model.json | tail -1)"
    (cd "$here/benches" && CUSTSEG_MODEL="$model_json" exec "$venv/bin/uvicorn" fastapi_app:app \
        --host 127.0.0.1 --port "$fport" --workers "${FASTAPI_WORKERS:-2}" --log-level warning) &
    fastapi_pid=$!
    wait_until_up "http://127.0.0.1:$fport/healthz"
    run "FastAPI + scikit-learn (uvicorn, ${FASTAPI_WORKERS:-2} workers): GET /healthz" "$connections" "http://127.0.0.1:$fport/healthz"
    run "FastAPI + scikit-learn: POST /v1/score, 1 customer (features)" "$connections" -s "$work/one.lua" "http://127.0.0.1:$fport/v1/score"
    run "FastAPI + scikit-learn: POST /v1/score, 100 customers (features)" "$connections" -s "$work/hundred.lua" "http://127.0.0.1:$fport/v1/score"
    kill "$fastapi_pid" 2>/dev/null; wait "$fastapi_pid" 2>/dev/null || true
fi
errors="$(curl -s "http://127.0.0.1:$port/metrics" | grep -E '^custseg_requests_total' | grep -vE 'status="200"' || true)"
echo "non-200 responses counted by the server: ${errors:-none}"
echo "server RSS after the runs: $(ps -o rss= -p "$server_pid" | awk '{printf "%.1f MB", $1/1024}')"
