#!/usr/bin/env bash
# Property-based API testing: schemathesis (PyPI) generates requests from /openapi.json and
# checks every response against the schema and HTTP rules (all checks), with a fixed seed.
#
#   benches/schemathesis.sh [MAX_EXAMPLES]      (default 100 per operation)
#
# Uses the venv of benches/compare_sklearn.sh ($HOME/.cache/custseg/bench-venv), installing
# schemathesis into it if needed. Exit status is schemathesis's (0 = no issues).
set -euo pipefail
examples="${1:-100}"
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
venv="${CUSTSEG_BENCH_CACHE:-$HOME/.cache/custseg}/bench-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
[ -x "$venv/bin/schemathesis" ] || "$venv/bin/pip" install --quiet schemathesis
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-$here/target}/release/custseg"
work="$(mktemp -d)"
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
"$bin" demo --models-dir "$work/models" --no-serve >/dev/null
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$bin" serve --models-dir "$work/models" --bind "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
"$venv/bin/schemathesis" run "http://127.0.0.1:$port/openapi.json" --checks all --seed 1 \
    --max-examples "$examples"
