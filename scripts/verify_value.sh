#!/usr/bin/env bash
# Checks custseg's value models (src/value: BG/NBD, Pareto/NBD, Gamma-Gamma, CLV) against
# lifetimes 0.11.3 on CDNOW: the calibration summary of data/public/CDNOW_master.txt to
# 1997-09-30 (freq "D"), parameters within 1 %, per-customer P(alive) / expected purchases
# within 1e-4 relative, the 360-day CLV, and the published fits on lifetimes' 1/10 sample.
# See scripts/verify_value.py for the list of checks. Exits non-zero on any failure.
#
#   scripts/verify_value.sh
#
# VALUE_VENV=dir uses another venv (default $HOME/.cache/custseg/value-venv).
# lifetimes 0.11.3 (2020) does not run on numpy 2 / pandas 2 / scipy >= 1.12; the venv pins
# the last versions it works with that still ship Python 3.11 wheels: numpy 1.26.4,
# pandas 1.5.3, scipy 1.11.4, autograd 1.6.2.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/value_venv.sh"
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
cargo build --release --quiet --example value_cdnow --bin custseg
exec "$venv/bin/python" scripts/verify_value.py --custseg "$target/release/examples/value_cdnow" \
    --cli "$target/release/custseg" "$@"
