#!/usr/bin/env bash
# Whole commands (read + clean + features + fit + write) of custseg against the tools a user
# would pick instead (pandas + scikit-learn, DuckDB, polars), same inputs, alternating runs,
# medians and peak RSS of each whole process: see benches/compare_e2e.py.
#
#   benches/compare_e2e.sh [--sections table,log,auto,batch,scaling] [--reps 3] [--threads 2]
#                          [--custseg-before OLD_BINARY] [--table-rows N] [--log-customers N]
#                          [--auto-customers N] [--auto-reps N] [--batch-customers N]
#                          [--scaling-sizes 250000,500000,1000000,2000000]
#
# CUSTSEG_BIN=PATH runs that binary instead of building (e.g. an "after" build; give the
# "before" one with --custseg-before to get both columns from one alternating run). Otherwise
# builds custseg in release into ${CARGO_TARGET_DIR:-target}. Makes a venv with numpy,
# scikit-learn, pandas, threadpoolctl, duckdb, polars and pyarrow under
# $HOME/.cache/custseg/bench-venv (PyPI) and caches generated data under
# $HOME/.cache/custseg/bench-data (CUSTSEG_BENCH_CACHE replaces $HOME/.cache/custseg).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
cache="${CUSTSEG_BENCH_CACHE:-$HOME/.cache/custseg}"
venv="$cache/bench-venv"
packages=(numpy scikit-learn pandas threadpoolctl duckdb polars pyarrow)
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "${packages[@]}"
elif ! "$venv/bin/python" -c 'import numpy, sklearn, pandas, threadpoolctl, duckdb, polars, pyarrow' 2>/dev/null; then
    # A venv made by compare_sklearn.sh lacks duckdb, polars and pyarrow.
    "$venv/bin/pip" install --quiet "${packages[@]}"
fi
if [ -n "${CUSTSEG_BIN:-}" ]; then
    bin="$CUSTSEG_BIN"
else
    cargo build --release --quiet
    bin="${CARGO_TARGET_DIR:-$here/target}/release/custseg"
fi
exec "$venv/bin/python" benches/compare_e2e.py --custseg "$bin" --data-dir "$cache/bench-data" "$@"
