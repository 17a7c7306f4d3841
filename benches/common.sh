# Shared set-up for the scripts that run a custseg server (sourced, not run):
# builds the release binary (or takes $CUSTSEG_BIN), makes a work folder removed on exit, trains the bundled sample
# into "$work/models", and starts `custseg serve` on a free loopback port.
#
# After `bench_setup`: $here (checkout), $bin (custseg), $work, $models.
# After `start_server [serve flags…]`: $port, $server_pid (stopped on exit), ready to answer.

# Sets $bin: $CUSTSEG_BIN (another build, e.g. an older commit's, against the same set-up),
# else the release build of the checkout $here, built first.
bench_bin() {
    if [ -n "${CUSTSEG_BIN:-}" ]; then
        bin="$CUSTSEG_BIN"
    else
        cargo build --release --quiet
        bin="${CARGO_TARGET_DIR:-$here/target}/release/custseg"
    fi
}

bench_setup() {
    here="$(cd "$(dirname "${BASH_SOURCE[1]}")/.." && pwd)"
    cd "$here"
    bench_bin
    work="$(mktemp -d)"
    models="$work/models"
    server_pid=""
    trap bench_cleanup EXIT
    "$bin" demo --models-dir "$models" --no-serve >/dev/null
}

bench_cleanup() {
    if [ -n "${server_pid:-}" ]; then
        kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits until URL answers 2xx (up to 10 s); fails otherwise.
wait_until_up() {
    for _ in $(seq 100); do
        curl -sf "$1" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    curl -sf "$1" >/dev/null
}

start_server() {
    port="$(free_port)"
    "$bin" serve --models-dir "$models" --bind "127.0.0.1:$port" "$@" >"$work/serve.log" 2>&1 &
    server_pid=$!
    wait_until_up "http://127.0.0.1:$port/readyz"
}

need_wrk() {
    command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
}

# Writes a wrk script to FILE that POSTs N customers given by features (N = 1 is the fixed
# customer of the soak and load runs; more are generated, consistent with each other:
# avg_order_value = monetary / frequency and recency below tenure).
customers_lua() {
    local file="$1" n="$2"
    cat >"$file" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = $n
LUA
    cat >>"$file" <<'LUA'
local c = {}
local genders = {"F", "M"}
local regions = {"North", "South", "East", "West"}
if n == 1 then
  c[1] = '{"customer_id":"c1","recency_days":12,"frequency":9,"monetary":1420.5,"avg_order_value":157.8,"tenure_days":610,"age":41,"gender":"F","annual_income":72000,"occupation":"Manager","region":"North","signup_channel":"app"}'
end
for i = #c + 1, n do
  c[#c + 1] = string.format('{"customer_id":"c%d","recency_days":%d,"frequency":%d,"monetary":%d.25,"avg_order_value":%.6f,"tenure_days":%d,"age":%d,"gender":"%s","annual_income":%d,"occupation":"Manager","region":"%s","signup_channel":"web"}',
    i, (i * 37) % 100, 1 + i % 30, 50 + i * 41, (50 + i * 41 + 0.25) / (1 + i % 30), 100 + (i * 13) % 600, 18 + i % 60, genders[1 + i % 2], 30000 + i * 700, regions[1 + i % 4])
end
wrk.body = '{"customers":[' .. table.concat(c, ",") .. ']}'
LUA
}
