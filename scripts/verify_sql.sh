#!/usr/bin/env bash
# Checks `custseg export --format sql` in real engines: DuckDB (PyPI duckdb), Spark SQL
# (PyPI pyspark 4.x, local[2]) and PostgreSQL 15 (a throwaway server on a Unix socket in a
# temp folder). For CDNOW (data/public), the bundled sample (its customer table and demo
# config) and a generated log (`custseg generate --customers N --seed 1`), it trains a model,
# scores the same data with `custseg score`, runs the exported query on the data loaded as
# typed tables and requires, per customer, the same segment id, |distance diff| <= 1e-6
# (custseg's CSV has 6 decimals) and the same r/f/m scores and lifecycle stage (an M score
# one off on a cut point, from adding amounts in another order, is listed, not a failure).
# Prints one agreement and timing table per engine; exits non-zero on any disagreement.
#
#   scripts/verify_sql.sh                    # 200,000 generated customers
#   scripts/verify_sql.sh --generated 1000000
#   scripts/verify_sql.sh --engines duckdb   # a subset of duckdb,spark,postgres
#
# CUSTSEG_BIN=path uses that binary instead of building the release one. Spark needs Java 17
# (apt-get install -y openjdk-17-jre-headless), Postgres the server binaries in
# $PG_BIN (default /usr/lib/postgresql/15/bin). The venv lives in $HOME/.cache/custseg/sql-venv;
# work files in a temp folder (WORK=dir keeps them).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${SQL_VENV:-$HOME/.cache/custseg/sql-venv}
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
# Only what the chosen engines need (CI runs DuckDB alone).
engines=duckdb,spark,postgres
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case ${args[i]} in
        --engines) engines=${args[i + 1]:-} ;;
        --engines=*) engines=${args[i]#--engines=} ;;
    esac
done
mods=() pkgs=()
case ",$engines," in *,duckdb,*) mods+=(duckdb) pkgs+=(duckdb) ;; esac
case ",$engines," in *,spark,*) mods+=(pyspark) pkgs+=('pyspark>=4,<5') ;; esac
case ",$engines," in *,postgres,*) mods+=(psycopg2) pkgs+=(psycopg2-binary) ;; esac
if [ ${#mods[@]} -gt 0 ] && ! "$venv/bin/python" -c "import $(IFS=,; echo "${mods[*]}")" >/dev/null 2>&1; then
    "$venv/bin/pip" install --quiet "${pkgs[@]}"
fi
cd "$root"
if [ -n "${CUSTSEG_BIN:-}" ]; then
    bin=$CUSTSEG_BIN
else
    cargo build --release --quiet --bin custseg
    bin=${CARGO_TARGET_DIR:-$root/target}/release/custseg
fi
work=${WORK:-$(mktemp -d)}
mkdir -p "$work"
chmod 755 "$work"

pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
pg_dir=$(mktemp -d)
pg_args=()
cleanup() {
    if [ -f "$pg_dir/data/postmaster.pid" ]; then
        as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast stop >/dev/null 2>&1 || true
    fi
    rm -rf "$pg_dir"
}
# initdb refuses to run as root: run the server as the postgres user when we are root.
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [[ ",$engines," != *,postgres,* ]]; then
    :
elif [ -x "$pg_bin/initdb" ]; then
    [ "$(id -u)" = 0 ] && chown postgres "$pg_dir"
    if as_pg "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust >"$pg_dir/initdb.log" 2>&1 \
        && as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w \
            -o "-k $pg_dir -c listen_addresses='' -p 5439 -c shared_buffers=256MB -c max_parallel_workers_per_gather=2" start >/dev/null; then
        pg_args=(--pg-socket "$pg_dir" --pg-port 5439)
    else
        echo "postgres did not start (see $pg_dir/*.log)" >&2
    fi
else
    echo "no PostgreSQL server binaries in $pg_bin: postgres is skipped" >&2
fi
"$venv/bin/python" scripts/verify_sql.py --custseg "$bin" --repo "$root" --work "$work" "${pg_args[@]}" "$@"
