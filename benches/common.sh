# Shared set-up for the scripts that run a custseg server (sourced, not run):
# builds the release binary, makes a work folder removed on exit, trains the bundled sample
# into "$work/models", and starts `custseg serve` on a free loopback port.
#
# After `bench_setup`: $here (checkout), $bin (custseg), $work, $models.
# After `start_server [serve flags…]`: $port, $server_pid (stopped on exit), ready to answer.

bench_setup() {
    here="$(cd "$(dirname "${BASH_SOURCE[1]}")/.." && pwd)"
    cd "$here"
    cargo build --release --quiet
    bin="${CARGO_TARGET_DIR:-$here/target}/release/custseg"
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
