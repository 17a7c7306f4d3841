#!/usr/bin/env bash
# Executes every notebook in notebooks/ headless, so they never rot:
#
#   notebooks/run.sh            # run them all; non-zero exit on any cell error or failed assert
#   notebooks/run.sh --clear    # strip outputs from the notebooks in place (before committing)
#
# 1. makes (or reuses) a venv with notebooks/requirements.txt at
#    ${CUSTSEG_NB_VENV:-$HOME/.cache/custseg/nb-venv}, rebuilt when that file or the Python
#    version changes;
# 2. builds custseg (`cargo build`, debug profile, honouring CARGO_TARGET_DIR);
# 3. trains two versions of the bundled sample (data/sample, demo.toml) into a fresh store:
#    v1 as of 2026-01-01, v2 as of the day after the last transaction (2026-07-01);
# 4. starts `custseg serve` on a free loopback port and waits until /readyz answers;
# 5. executes each notebook with nbclient (kernel from the venv, matplotlib Agg), writing the
#    executed copies to ${NB_OUT:-<work folder>/executed}; the server is stopped on exit.
#
# Needs CPython 3.11+ with venv/pip (PYTHON=... to choose) and cargo; PyPI on the first run.
# Other knobs: NB_CELL_TIMEOUT (seconds per cell, default 300).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
python="${PYTHON:-python3}"
venv="${CUSTSEG_NB_VENV:-$HOME/.cache/custseg/nb-venv}"
req="$here/notebooks/requirements.txt"
clear_only=0
case "${1:-}" in
    "") ;;
    --clear) clear_only=1 ;;
    *) echo "usage: notebooks/run.sh [--clear]" >&2; exit 2 ;;
esac
t0=$SECONDS

# --- 1. venv --------------------------------------------------------------------------------
command -v "$python" >/dev/null || { echo "error: $python not found (set PYTHON=)" >&2; exit 2; }
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    { echo "error: $python is $("$python" -V 2>&1); the notebooks need Python 3.11 or newer (set PYTHON=)" >&2; exit 2; }
setup_rev=1   # bump when setup_venv changes what it installs
key="$("$python" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest(), sys.version.split()[0])' "$req") $setup_rev"
stamp="$venv/.custseg-requirements"
setup_venv() {
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ] && "$venv/bin/python" -c '' 2>/dev/null; then
        return
    fi
    echo "notebooks: creating the venv $venv (requirements.txt changed or first run)"
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv" ||
        { echo "error: '$python -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 2; }
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$req"
    # A kernel spec of our own inside the venv, so no user-wide "python3" kernel can stand in.
    "$venv/bin/python" -m ipykernel install --prefix "$venv" --name custseg-nb \
        --display-name "Python 3 (custseg notebooks)" >/dev/null
    echo "$key" >"$stamp"   # last: an interrupted install is redone next time
}
mkdir -p "$(dirname "$venv")"
if command -v flock >/dev/null; then
    # Two runs at once (two checkouts, one cache) take turns building the venv.
    exec 9>"$venv.lock"
    flock 9
    setup_venv
    flock -u 9
else
    setup_venv
fi
echo "notebooks: venv ready ($((SECONDS - t0)) s)"

if [ "$clear_only" = 1 ]; then
    exec "$venv/bin/python" - notebooks/*.ipynb <<'EOF'
import sys
import nbformat
for path in sys.argv[1:]:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
    # Jupyter records the kernel's exact Python version here; keep it out of diffs.
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.write(nb, path)
    print("cleared", path)
EOF
fi

# --- 2. build -------------------------------------------------------------------------------
cargo build --quiet
target_dir="$(cargo metadata --format-version 1 --no-deps |
    "$python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
bin="$target_dir/debug/custseg"
[ -x "$bin" ] || { echo "error: no binary at $bin after cargo build" >&2; exit 1; }
echo "notebooks: built $bin ($((SECONDS - t0)) s)"

# --- 3. two model versions ------------------------------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/custseg-nb.XXXXXX")"
models="$work/models"
out="${NB_OUT:-$work/executed}"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

sample="$here/data/sample"
train() {
    local log="$work/train-$1.log"
    shift
    if ! "$bin" train --transactions "$sample/transactions.csv" --customers "$sample/customers.csv" \
        --config "$sample/demo.toml" --models-dir "$models" "$@" >"$log" 2>&1; then
        cat "$log" >&2
        echo "error: custseg train $* failed" >&2
        exit 1
    fi
    head -n 1 "$log"
}
# An earlier and a later snapshot of the same customers: a retrain as it happens in practice.
train v1 --as-of 2026-01-01
train v2

# --- 4. the scorer --------------------------------------------------------------------------
# Port 0: the system picks a free port, which the server prints ("custseg serving on http://…").
"$bin" serve --models-dir "$models" --bind 127.0.0.1:0 --workers 2 --watch-interval-ms 0 \
    >"$work/serve.log" 2>&1 &
server_pid=$!
url=""
for _ in $(seq 300); do
    url="$(sed -n 's|^custseg serving on \(http://[^ ]*\).*|\1|p' "$work/serve.log" | head -n 1)"
    if [ -n "$url" ] && "$python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/readyz", timeout=2)' "$url" 2>/dev/null; then
        break
    fi
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; echo "error: custseg serve exited" >&2; exit 1; }
    url=""
    sleep 0.1
done
[ -n "$url" ] || { cat "$work/serve.log" >&2; echo "error: custseg serve not ready after 30 s" >&2; exit 1; }
echo "notebooks: scorer ready at $url ($((SECONDS - t0)) s)"

# --- 5. execute -----------------------------------------------------------------------------
mkdir -p "$out"
status=0
CUSTSEG_MODELS_DIR="$models" CUSTSEG_MODEL=default CUSTSEG_URL="$url" CUSTSEG_API_KEY="" \
    CUSTSEG_NB_STRICT=1 MPLBACKEND=Agg IPYTHONDIR="$work/ipython" PYDEVD_DISABLE_FILE_VALIDATION=1 \
    NB_OUT="$out" NB_WORK="$work" NB_CELL_TIMEOUT="${NB_CELL_TIMEOUT:-300}" \
    "$venv/bin/python" - notebooks/*.ipynb <<'EOF' || status=$?
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

out = Path(os.environ["NB_OUT"])
failed = []
for path in map(Path, sys.argv[1:]):
    nb = nbformat.read(path, as_version=4)
    dirty = [c.get("id", i) for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    if dirty:
        print(f"FAIL {path}: saved with outputs ({len(dirty)} cells, e.g. {dirty[:3]}); "
              "clear them with notebooks/run.sh --clear")
        failed.append(path.name)
        continue
    t = time.monotonic()
    client = NotebookClient(nb, kernel_name="custseg-nb", timeout=int(os.environ["NB_CELL_TIMEOUT"]),
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    # IPC sockets in the work folder rather than TCP ports: nothing to collide with, nothing to
    # warn about. The client still owns the kernel and shuts it down after the last cell.
    km = client.create_kernel_manager()
    km.transport, km.ip = "ipc", os.path.join(os.environ["NB_WORK"], "kernel-" + path.stem)
    try:
        client.execute()
        print(f"ok   {path} ({time.monotonic() - t:.1f} s, {len(nb.cells)} cells)")
    except (CellExecutionError, CellTimeoutError) as e:
        print(f"FAIL {path} ({time.monotonic() - t:.1f} s)\n{e}")
        failed.append(path.name)
    finally:
        nbformat.write(nb, out / path.name)
print(f"executed notebooks in {out}")
if failed:
    print(f"failed: {', '.join(failed)} (scorer log: {os.environ['NB_WORK']}/serve.log)")
# The plain closing line CI reads.
print(f"notebooks: {len(sys.argv) - 1 - len(failed)} passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
EOF
exit "$status"
