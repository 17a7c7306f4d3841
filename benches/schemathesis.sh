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
source "$(dirname "$0")/common.sh"
venv="${CUSTSEG_BENCH_CACHE:-$HOME/.cache/custseg}/bench-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
[ -x "$venv/bin/schemathesis" ] || "$venv/bin/pip" install --quiet schemathesis
bench_setup
start_server
"$venv/bin/schemathesis" run "http://127.0.0.1:$port/openapi.json" --checks all --seed 1 \
    --max-examples "$examples"
