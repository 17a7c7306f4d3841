"""Checks `custseg export --format sql` against `custseg score` in real engines.

For each data set: train a model with custseg, score the same data with `custseg score`
(as of the model's as-of), export the model as one query per dialect, load the data into
the engine as typed tables (ids and labels as text, dates as DATE, numbers as DOUBLE, under
the training files' column names), run the query and compare per customer: the same
segment id, |distance difference| <= 1e-6, the same r/f/m scores and lifecycle stage. The
one difference allowed is an M score one off for a customer whose monetary value sits on a
cut point: the engine adds the amounts in another order than the file's, and the sum lands a
unit in the last place on the other side (listed in the table, not a failure).
Prints one table per engine with the agreement and the wall time (load and query apart).

Run by scripts/verify_sql.sh, which makes the venv and starts Postgres.
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time

TOL = 1e-6


def run(cmd, **kw):
    t = time.time()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)
    return time.time() - t


class Dataset:
    def __init__(self, name, transactions, customers, train_args, clean):
        self.name = name
        self.transactions = transactions
        self.customers = customers
        self.train_args = train_args
        self.clean = clean  # writes engine CSVs (ISO dates, the model's headers)


def cdnow_clean(src, header, out):
    """CDNOW is whitespace separated with YYYYMMDD dates: rewrite as CSV with ISO dates."""
    with open(src) as f, open(out, "w", newline="") as g:
        w = csv.writer(g)
        w.writerow(header)
        next(f)
        for line in f:
            p = line.split()
            if len(p) != 4:
                continue
            d = p[1]
            w.writerow([p[0], f"{d[:4]}-{d[4:6]}-{d[6:]}", p[2], p[3]])


def types_of(model):
    """Engine type (text, date, double) of every transaction and customer-table column."""
    inp = model["input"]
    roles = {v: k for k, v in inp.get("transaction_columns", {}).items()}
    tx = []
    for h in inp.get("transaction_header", []):
        r = roles.get(h)
        t = {"date": "date", "amount": "double", "quantity": "double", "unit_price": "double"}.get(r, "text")
        tx.append((h, t))
    cu = []
    if inp.get("customer_id_column"):
        cu.append((inp["customer_id_column"], "text"))
        for f in model["features"]["features"]:
            if f["source"] != "customers":
                continue
            d = f.get("derived") or {}
            if d.get("kind") == "days_since":
                t = "date"
            elif f["encoding"]["kind"] == "numeric":
                t = "double"
            else:
                t = "text"
            cu.append((f.get("column") or f["name"], t))
    return tx, cu


def csv_header(path):
    with open(path, newline="") as f:
        return next(csv.reader(f))


class DuckDb:
    name = "duckdb"

    def __init__(self):
        import duckdb

        self.con = duckdb.connect()
        self.con.execute("SET threads TO 2")

    def load(self, table, path, cols):
        import duckdb  # noqa: F401

        want = {c: t for c, t in cols}
        header = csv_header(path)
        ty = {"text": "VARCHAR", "date": "DATE", "double": "DOUBLE"}
        spec = ", ".join(f"'{h}': '{ty[want.get(h, 'text')]}'" for h in header)
        self.con.execute(f'DROP TABLE IF EXISTS "{table}"')
        self.con.execute(
            f"CREATE TABLE \"{table}\" AS SELECT * FROM read_csv('{path}', header=true, "
            f"delim=',', quote='\"', columns={{{spec}}})"
        )

    def query(self, sql):
        return self.con.execute(sql).fetchall()

    def close(self):
        self.con.close()


class Spark:
    name = "spark"

    def __init__(self):
        from pyspark.sql import SparkSession

        self.spark = (
            SparkSession.builder.master("local[2]")
            .appName("custseg-verify-sql")
            .config("spark.driver.memory", "3g")
            .config("spark.sql.shuffle.partitions", "8")
            .config("spark.ui.enabled", "false")
            .getOrCreate()
        )
        self.spark.sparkContext.setLogLevel("ERROR")

    def load(self, table, path, cols):
        from pyspark.sql import types as T

        want = {c: t for c, t in cols}
        ty = {"text": T.StringType(), "date": T.DateType(), "double": T.DoubleType()}
        schema = T.StructType(
            [T.StructField(h, ty[want.get(h, "text")], True) for h in csv_header(path)]
        )
        df = self.spark.read.csv(path, header=True, schema=schema, dateFormat="yyyy-MM-dd")
        df.cache().count()
        df.createOrReplaceTempView(table)

    def query(self, sql):
        return [tuple(r) for r in self.spark.sql(sql).collect()]

    def close(self):
        self.spark.stop()


class Postgres:
    name = "postgres"

    def __init__(self, socket_dir, port):
        import psycopg2

        self.con = psycopg2.connect(host=socket_dir, port=port, dbname="postgres", user="postgres")
        self.con.autocommit = True

    def load(self, table, path, cols):
        want = {c: t for c, t in cols}
        ty = {"text": "TEXT", "date": "DATE", "double": "DOUBLE PRECISION"}
        header = csv_header(path)
        defs = ", ".join('"{}" {}'.format(h.replace('"', '""'), ty[want.get(h, "text")]) for h in header)
        cur = self.con.cursor()
        cur.execute(f'DROP TABLE IF EXISTS "{table}"')
        cur.execute(f'CREATE UNLOGGED TABLE "{table}" ({defs})')
        with open(path) as f:
            cur.copy_expert(f'COPY "{table}" FROM STDIN WITH (FORMAT csv, HEADER true)', f)
        cur.execute(f'ANALYZE "{table}"')

    def query(self, sql):
        cur = self.con.cursor()
        cur.execute("SET work_mem = '256MB'")
        cur.execute(sql)
        return cur.fetchall()

    def close(self):
        self.con.close()


def reference(path):
    ref = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if r["segment_id"]:
                ref[r["customer_id"]] = r
    return ref


def compare(ref, rows, has_lifecycle):
    got = {r[0]: r for r in rows}
    same = dist_ok = life_ok = m_tie = action_ok = 0
    max_diff = 0.0
    for cid, r in ref.items():
        g = got.get(cid)
        if g is None:
            continue
        same += int(r["segment_id"]) == int(g[1])
        action_ok += r["action"] == g[-1]
        diff = abs(float(r["distance"]) - float(g[4]))
        max_diff = max(max_diff, diff)
        dist_ok += diff <= TOL
        if has_lifecycle:
            want = [r["r_score"], r["f_score"], r["lifecycle"]]
            have = [str(g[5]), str(g[6]), g[8]]
            m_diff = abs(int(r["m_score"]) - int(g[7]))
            life_ok += want == have and m_diff == 0
            # A monetary sum on a cut point, added in another order (see the export's docs).
            m_tie += want == have and m_diff == 1
    extra = len(set(got) - set(ref))
    return {
        "customers": len(ref),
        "rows": len(rows),
        "missing": len(set(ref) - set(got)),
        "extra": extra,
        "same_segment": same,
        "same_action": action_ok,
        "distance_ok": dist_ok,
        "max_diff": max_diff,
        "lifecycle_ok": life_ok if has_lifecycle else None,
        "m_tie": m_tie,
    }


def bad_counts(c):
    """What disagrees, as counts (a percentage rounds 1 in 200,000 away)."""
    n = c["customers"]
    bad = {
        "other segment": n - c["same_segment"],
        "other action": n - c["same_action"],
        "distance off": n - c["distance_ok"],
        "missing": c["missing"],
        "extra": c["extra"],
    }
    if c["lifecycle_ok"] is not None:
        bad["M score one off on a cut point"] = c["m_tie"]
        bad["other r/f/m or stage"] = n - c["lifecycle_ok"] - c["m_tie"]
    text = ", ".join(f"{k} {v}" for k, v in bad.items() if v)
    return f"  ({text})" if text else ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--custseg", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--generated", type=int, default=200000)
    ap.add_argument("--engines", default="duckdb,spark,postgres")
    ap.add_argument("--pg-socket")
    ap.add_argument("--pg-port", default="5432")
    a = ap.parse_args()
    repo, work, cs = a.repo, a.work, a.custseg
    models = os.path.join(work, "models")
    demo = os.path.join(repo, "data/sample/demo.toml")
    gen = os.path.join(work, f"gen{a.generated}")
    if not os.path.exists(os.path.join(gen, "transactions.csv")):
        run([cs, "generate", "--customers", str(a.generated), "--seed", "1", "--out", gen])
    sets = [
        Dataset("cdnow", os.path.join(repo, "data/public/CDNOW_master.txt"), None, [], "cdnow"),
        Dataset(
            "sample",
            os.path.join(repo, "data/sample/transactions.csv"),
            os.path.join(repo, "data/sample/customers.csv"),
            ["--config", demo],
            None,
        ),
        Dataset(
            f"generated-{a.generated // 1000}k",
            os.path.join(gen, "transactions.csv"),
            os.path.join(gen, "customers.csv"),
            ["--config", demo],
            None,
        ),
    ]
    prepared = []
    for ds in sets:
        name = ds.name.replace("-", "_")
        cmd = [cs, "train", "--transactions", ds.transactions, "--name", name, "--models-dir", models, "--seed", "1"]
        if ds.customers:
            cmd += ["--customers", ds.customers]
        t_train = run(cmd + ds.train_args)
        mdir = os.path.join(models, name)
        vdir = sorted(d for d in os.listdir(mdir) if d.startswith("v"))[-1]
        model = json.load(open(os.path.join(mdir, vdir, "model.json")))
        score = os.path.join(work, f"{name}.score.csv")
        cmd = [cs, "score", "--model", mdir, "--input", ds.transactions, "--as-of", model["as_of"], "--output", score]
        if ds.customers:
            cmd += ["--customers", ds.customers]
        t_score = run(cmd)
        tx_types, cu_types = types_of(model)
        tx_csv = ds.transactions
        if ds.clean == "cdnow":
            tx_csv = os.path.join(work, "cdnow.csv")
            cdnow_clean(ds.transactions, [h for h, _ in tx_types], tx_csv)
        feats = [f["name"] for f in model["features"]["features"]]
        print(
            f"{ds.name}: {model['input']['customers_segmented']} customers, "
            f"{model['input']['transaction_rows']} lines, k={model['k']}, features {', '.join(feats)}; "
            f"custseg train {t_train:.1f}s, custseg score {t_score:.1f}s"
        )
        prepared.append((ds, mdir, model, score, tx_csv, tx_types, cu_types))

    tables = {}
    for engine_name in a.engines.split(","):
        try:
            if engine_name == "duckdb":
                eng = DuckDb()
            elif engine_name == "spark":
                eng = Spark()
            else:
                eng = Postgres(a.pg_socket, a.pg_port)
        except Exception as e:  # an engine that does not start is reported, not fatal
            print(f"{engine_name}: could not start: {e}", file=sys.stderr)
            continue
        rows_out = []
        for ds, mdir, model, score, tx_csv, tx_types, cu_types in prepared:
            qpath = os.path.join(work, f"{ds.name}.{engine_name}.sql")
            cmd = [cs, "export", "--model", mdir, "--format", "sql", "--dialect", engine_name, "--output", qpath]
            if ds.customers:
                cmd += ["--customers-table", "customers"]
            run(cmd)
            t = time.time()
            eng.load("transactions", tx_csv, tx_types)
            if ds.customers:
                eng.load("customers", ds.customers, cu_types)
            t_load = time.time() - t
            t = time.time()
            rows = eng.query(open(qpath).read())
            t_query = time.time() - t
            c = compare(reference(score), rows, model.get("lifecycle") is not None)
            rows_out.append((ds.name, c, t_load, t_query))
        eng.close()
        tables[engine_name] = rows_out

    ok = True
    for engine_name, rows_out in tables.items():
        print(f"\n{engine_name}")
        print(f"  {'data set':<16} {'customers':>9} {'same segment':>14} {'|Δdistance|≤1e-6':>17} {'max |Δ|':>9} {'r/f/m+stage':>12} {'load s':>7} {'query s':>8}")
        for name, c, t_load, t_query in rows_out:
            n = c["customers"]
            seg = 100.0 * c["same_segment"] / n if n else 0.0
            dist = 100.0 * c["distance_ok"] / n if n else 0.0
            life = "-" if c["lifecycle_ok"] is None else f"{100.0 * c['lifecycle_ok'] / n:.3f}%"
            print(
                f"  {name:<16} {n:>9} {seg:>13.3f}% {dist:>16.3f}% {c['max_diff']:>9.1e} {life:>12} {t_load:>7.1f} {t_query:>8.1f}"
                + bad_counts(c)
            )
            good = c["same_segment"] == n and c["distance_ok"] == n and not c["missing"] and not c["extra"]
            if c["lifecycle_ok"] is not None:
                good = good and c["lifecycle_ok"] + c["m_tie"] == n
            ok = ok and good
    print("\nall agree" if ok else "\nDISAGREEMENT (see above)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
