#!/usr/bin/env bash
# Crash safety: kill -9 the trainer at random points while it writes model versions, and the
# server under load, and check that nothing half-written is ever visible.
#
#   benches/crash.sh [TRAINER_KILLS] [SERVER_KILLS] [WRITE_KILLS]      (default 40, 5 and 20)
#
# TRAINER_KILLS kill at a random time; WRITE_KILLS wait until the trainer's temporary version
# folder appears (it is writing model.json, metrics.json, the CSVs and report.html) and kill
# 0-9 ms later, so the write phase itself is hit. After every trainer kill: each models/default/vN loads (`custseg models show`), CURRENT names
# a complete version. After every server kill -9: a restarted server answers /v1/score with the
# version CURRENT names. Exit 1 on any violation.
set -euo pipefail
trainer_kills="${1:-40}"
server_kills="${2:-5}"
write_kills="${3:-20}"
source "$(dirname "$0")/common.sh"
bench_setup
pids=()
crash_cleanup() {
    for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
    bench_cleanup
}
trap crash_cleanup EXIT
fail=0

check_registry() {
    local name="${1:-default}" cur
    [ -f "$models/$name/CURRENT" ] || {
        # Only a store that never finished a version may lack CURRENT.
        if ls -d "$models/$name"/v* >/dev/null 2>&1; then
            echo "FAIL: $name has versions but no CURRENT"
            fail=1
        fi
        return 0
    }
    cur="$(tr -dc 0-9 <"$models/$name/CURRENT")"
    [ -d "$models/$name/v$cur" ] || { echo "FAIL: $name CURRENT names missing v$cur"; fail=1; }
    for d in "$models/$name"/v*; do
        [ -d "$d" ] || continue
        local v="${d##*/v}"
        if ! "$bin" models show "$name/v$v" --models-dir "$models" >/dev/null 2>&1; then
            echo "FAIL: $name v$v is visible but does not load"
            fail=1
        fi
    done
}

killed=0 finished=0
for i in $(seq "$trainer_kills"); do
    "$bin" train --transactions data/sample/transactions.csv --customers data/sample/customers.csv \
        --config data/sample/demo.toml --seed "$i" --n-init 1 --models-dir "$models" >/dev/null 2>&1 &
    pid=$!
    # Somewhere between start-up and the end of writing (training the sample takes ~0.1-0.3 s).
    sleep "0.$(printf '%03d' $((RANDOM % 400)))"
    if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); else finished=$((finished + 1)); fi
    wait "$pid" 2>/dev/null || true
    check_registry
done
in_write=0
# CDNOW's version folder (1.6 MB of assignments plus the report) takes long enough to write
# for a polling shell to land inside it; the sample's is written in a few milliseconds.
cdnow="data/public/CDNOW_master.txt"
for i in $(seq "$write_kills"); do
    if [ -f "$cdnow" ]; then
        "$bin" train --transactions "$cdnow" --k 5 --seed "$((1000 + i))" --n-init 1 \
            --models-dir "$models" --name cdnow >/dev/null 2>&1 &
        store="$models/cdnow"
    else
        "$bin" train --transactions data/sample/transactions.csv \
            --customers data/sample/customers.csv --config data/sample/demo.toml \
            --seed "$((1000 + i))" --n-init 1 --models-dir "$models" >/dev/null 2>&1 &
        store="$models/default"
    fi
    pid=$!
    mkdir -p "$store"
    # Wait for this trainer's own temporary folder (.tmp-vN-PID-…; up to ~10 s), then kill
    # inside the write. (Counting folders would miss it: a save first sweeps earlier leftovers.)
    seen=0
    for _ in $(seq 10000); do
        if ls -A "$store" 2>/dev/null | grep -q "^\.tmp-v[0-9]*-$pid-"; then seen=1; break; fi
        kill -0 "$pid" 2>/dev/null || break
    done
    sleep "0.00$((RANDOM % 10))"
    if kill -9 "$pid" 2>/dev/null; then
        [ "$seen" = 1 ] && in_write=$((in_write + 1))
        killed=$((killed + 1))
    else
        finished=$((finished + 1))
    fi
    wait "$pid" 2>/dev/null || true
    check_registry "${store##*/}"
done
echo "write phase: $write_kills runs, $in_write killed after their temporary version folder appeared"

versions="$(ls -d "$models"/*/v* | wc -l)"
leftovers="$(ls -A "$models"/* | grep -c '^\.tmp-' || true)"
echo "trainer: $((trainer_kills + write_kills)) runs, $killed killed mid-run, $finished finished first; $versions complete versions; $leftovers temp folders of killed writers left (never listed as versions; the next save sweeps them)"

# The server: kill -9 under load, restart, it must serve the CURRENT version.
port="$(free_port)"
# Every feature of the demo model (a customer missing most of them is refused: too_many_missing).
body='{"customers":[{"customer_id":"c1","recency_days":12,"frequency":9,"monetary":1420.5,"avg_order_value":157.8,"tenure_days":610,"age":41,"gender":"F","annual_income":72000,"occupation":"Manager","region":"North","signup_channel":"app"}]}'
for i in $(seq "$server_kills"); do
    "$bin" serve --models-dir "$models" --bind "127.0.0.1:$port" >/dev/null 2>&1 &
    spid=$!
    pids+=("$spid")
    wait_until_up "http://127.0.0.1:$port/readyz"
    want="$(tr -dc 0-9 <"$models/default/CURRENT")"
    got="$(curl -s "http://127.0.0.1:$port/v1/score" -H 'Content-Type: application/json' -d "$body" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')"
    [ "$got" = "$want" ] || { echo "FAIL: restart $i serves v$got, CURRENT is v$want"; fail=1; }
    if command -v wrk >/dev/null; then
        timeout 3 wrk -t1 -c8 -d10s "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 &
        sleep 1
    fi
    kill -9 "$spid"
    wait "$spid" 2>/dev/null || true
    wait 2>/dev/null || true
done
echo "server: killed -9 under load and restarted $server_kills times; each restart served CURRENT"
[ "$fail" = 0 ] && echo "OK: registry consistent after every kill"
exit "$fail"
