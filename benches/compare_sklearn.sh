#!/usr/bin/env bash
# custseg vs scikit-learn, same data, same machine, one run: see benches/compare_sklearn.py.
#
#   benches/compare_sklearn.sh [--sizes 100000,1000000] [--reps 3] [--n-init 10]
#
# Makes a venv with numpy + scikit-learn under $HOME/.cache/custseg/bench-venv (PyPI), builds
# custseg in release, caches generated data under $HOME/.cache/custseg/bench-data.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
cache="${CUSTSEG_BENCH_CACHE:-$HOME/.cache/custseg}"
venv="$cache/bench-venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet numpy scikit-learn pandas threadpoolctl
fi
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-$here/target}/release/custseg"
exec "$venv/bin/python" benches/compare_sklearn.py --custseg "$bin" --data-dir "$cache/bench-data" "$@"
