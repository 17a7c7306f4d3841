#!/usr/bin/env bash
# Checks the KServe Open Inference Protocol v2 routes of `custseg serve` with a real client:
# NVIDIA's tritonclient[http] (PyPI) checks liveness and readiness, reads the server's and the
# model's metadata, and scores every customer of the demo model (trained on data/sample with
# data/sample/demo.toml) through InferInput / infer; each answer must equal what /v1 gives the
# same customer (segment_id, segment, tier, distance). Exits non-zero on any disagreement.
#
#   scripts/verify_kserve.sh
#
# CUSTSEG_BIN=path uses that binary instead of building the debug one. The venv lives in
# $HOME/.cache/custseg/kserve-venv (KSERVE_VENV to change).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${KSERVE_VENV:-$HOME/.cache/custseg/kserve-venv}
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import tritonclient.http, numpy' >/dev/null 2>&1; then
    "$venv/bin/pip" install --quiet 'tritonclient[http]' numpy
fi
cd "$root"
if [ -n "${CUSTSEG_BIN:-}" ]; then
    bin=$CUSTSEG_BIN
else
    cargo build --quiet --bin custseg
    bin=${CARGO_TARGET_DIR:-$root/target}/debug/custseg
fi
exec "$venv/bin/python" scripts/verify_kserve.py --custseg "$bin"
