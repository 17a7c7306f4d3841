#!/usr/bin/env bash
# Checks `custseg export --format pmml` with a real PMML evaluator: pypmml (PMML4S on the JVM)
# scores every training customer of four models (the bundled sample, Mall customers, CDNOW,
# and the sample with XML-hostile category levels and segment names) and a set of customers
# with missing values, unknown categories and blank-padded labels, and must agree with
# `custseg score` on each one (near-ties within 1e-9 are listed apart). Exits non-zero on any
# disagreement. Then times batch scoring of the same 200,000 rows by both (--timing-rows N).
#
#   scripts/verify_pmml.sh                      # train the three models in a temp folder
#   scripts/verify_pmml.sh --model models/NAME  # also check an existing model (repeatable)
#
# CUSTSEG_BIN=path uses that binary instead of building the release one.
# Needs Java for pypmml (apt-get install -y default-jre-headless); Mall customers and CDNOW are
# read from data/public in the repository. The venv lives in $HOME/.cache/custseg/pmml-venv.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v java >/dev/null 2>&1; then
    echo "pypmml needs a Java runtime: apt-get install -y default-jre-headless" >&2
    exit 1
fi
venv=${PMML_VENV:-$HOME/.cache/custseg/pmml-venv}
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import pypmml, pandas' >/dev/null 2>&1; then
    "$venv/bin/pip" install --quiet pypmml pandas
fi
cd "$root"
if [ -n "${CUSTSEG_BIN:-}" ]; then
    bin=$CUSTSEG_BIN
else
    cargo build --release --quiet --bin custseg
    bin=${CARGO_TARGET_DIR:-$root/target}/release/custseg
fi
exec "$venv/bin/python" scripts/verify_pmml.py --custseg "$bin" "$@"
