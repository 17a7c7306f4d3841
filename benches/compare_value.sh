#!/usr/bin/env bash
# custseg's value models vs lifetimes 0.11.3, same simulated summary, same machine, whole fits:
# see benches/compare_value.py.
#
#   benches/compare_value.sh [--sizes 100000,1000000] [--lifetimes-max 100000] [--reps 3]
#
# Reuses (or creates) the lifetimes venv of scripts/verify_value.sh (VALUE_VENV, default
# $HOME/.cache/custseg/value-venv; lifetimes 0.11.3 needs numpy 1.26.4 / pandas 1.5.3 /
# scipy 1.11.4 / autograd 1.6.2), builds examples/value_cdnow.rs in release and caches the
# generated summaries under $HOME/.cache/custseg/bench-data.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache="${CUSTSEG_BENCH_CACHE:-$HOME/.cache/custseg}"
. "$root/scripts/value_venv.sh"
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
cargo build --release --quiet --example value_cdnow
exec "$venv/bin/python" benches/compare_value.py --custseg "$target/release/examples/value_cdnow" \
    --data-dir "$cache/bench-data" "$@"
