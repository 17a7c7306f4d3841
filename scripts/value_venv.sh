# Sourced by scripts/verify_value.sh and benches/compare_value.sh: sets $venv to a venv with
# lifetimes 0.11.3 (VALUE_VENV, default $HOME/.cache/custseg/value-venv), creating it when
# needed. lifetimes 0.11.3 (2020) does not run on numpy 2 / pandas 2 / scipy >= 1.12; the venv
# pins the last versions it works with that still ship Python 3.11 wheels.
venv=${VALUE_VENV:-${CUSTSEG_BENCH_CACHE:-$HOME/.cache/custseg}/value-venv}
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import lifetimes, sys; sys.exit(lifetimes.__version__ != "0.11.3")' >/dev/null 2>&1; then
    "$venv/bin/pip" install --quiet lifetimes==0.11.3 numpy==1.26.4 pandas==1.5.3 scipy==1.11.4 autograd==1.6.2
fi
