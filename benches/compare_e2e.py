#!/usr/bin/env python3
"""Whole commands of custseg (what a user waits for: read + clean + features + fit + write)
against the tools a user would pick instead, on identical inputs, in one run, alternating which
side goes first. Run through benches/compare_e2e.sh (venv + build, or CUSTSEG_BIN).

Every time is the wall time of a whole process, from start to exit (interpreter start-up and
imports included for the Python sides); peak RSS is GNU time's %M of that process. Each side
gets --threads threads (OMP/OpenBLAS/MKL, RAYON_NUM_THREADS, POLARS_MAX_THREADS, DuckDB
`SET threads`). Times are medians of --reps runs. --custseg-before OLD runs a second custseg
binary in the same alternation and prints its column next to the first one.

Sections (--sections table,log,auto,batch,scaling):
- table: an n x 10 numeric customer table (customer_id,x1..x10; a seeded mixture of 8
  overlapping Gaussians, as make_data in compare_sklearn.py, written with '%.6f').
  pandas read_csv + StandardScaler + KMeans(k 8, n_init 10, k-means++, lloyd, tol 1e-4,
  max_iter 300, random_state 0) + to_csv of customer_id,segment_id, against
  `custseg train --customers table.csv --k 8 --n-init 10 --seed 0` with a config giving every
  x feature `transform = "none"`, so both minimise the same objective. Inertias must agree
  within --inertia-tol.
- log: `custseg generate --customers N --seed 1`'s transactions.csv. DuckDB and polars compute
  RFM (dedupe exact duplicate lines, amount = quantity * unit_price, recency, frequency =
  distinct orders among purchases, monetary, tenure) and write it to CSV; custseg trains on it
  (k 4, n_init 1). Customers, sums of monetary, frequency, recency and tenure must agree.
- auto: `custseg train` with transactions + customer table and --k auto (custseg only).
- batch: the feature table of a k = 8 model (its assignments.csv); pandas + numpy scaling +
  KMeans.predict + to_csv against `custseg score`. Labels must agree on every customer.
- scaling: custseg train (k 4, n_init 1) on generated logs of growing size; each step's wall
  time must grow at most 1.05 x the size ratio (2.1 for doubling).
Any disagreement is printed as FAIL and the script exits 1 after the tables.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

FAILURES = []

TABLE_SKLEARN = r"""
import json, sys
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler
src, out, k, n_init, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
df = pd.read_csv(src, dtype={"customer_id": str})
cols = [c for c in df.columns if c != "customer_id"]
X = StandardScaler().fit_transform(df[cols].to_numpy(dtype=float))
m = KMeans(n_clusters=k, n_init=n_init, init="k-means++", algorithm="lloyd",
           max_iter=300, tol=1e-4, random_state=seed).fit(X)
pd.DataFrame({"customer_id": df["customer_id"], "segment_id": m.labels_}).to_csv(out, index=False)
print(json.dumps({"inertia": float(m.inertia_), "iterations": int(m.n_iter_), "rows": len(df)}))
"""

# order_date as DATE; the generator writes ISO dates and no blank fields, but rows without a
# customer or date are dropped anyway, as custseg drops them.
LOG_DUCKDB = r"""
import sys
import duckdb
src, out, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
con = duckdb.connect()
con.execute(f"SET threads={threads}")
con.execute(f'''
COPY (
  WITH t AS (
    SELECT DISTINCT * FROM read_csv('{src}', header = true, columns = {{
      'order_id': 'VARCHAR', 'customer_id': 'VARCHAR', 'order_date': 'DATE',
      'quantity': 'DOUBLE', 'unit_price': 'DOUBLE'}})),
  a AS (SELECT *, quantity * unit_price AS amount FROM t
        WHERE customer_id IS NOT NULL AND order_date IS NOT NULL),
  ao AS (SELECT (max(order_date) + INTERVAL 1 DAY)::DATE AS as_of FROM a),
  p AS (SELECT customer_id, max(order_date) AS last, min(order_date) AS first,
               count(DISTINCT order_id) AS frequency
        FROM a WHERE amount >= 0 GROUP BY customer_id),
  m AS (SELECT customer_id, sum(amount) AS monetary FROM a GROUP BY customer_id)
  SELECT p.customer_id, date_diff('day', p.last, ao.as_of) AS recency_days, p.frequency,
         m.monetary, m.monetary / p.frequency AS avg_order_value,
         date_diff('day', p.first, ao.as_of) AS tenure_days
  FROM p JOIN m USING (customer_id), ao
) TO '{out}' (HEADER, DELIMITER ',')
''')
"""

LOG_POLARS = r"""
import sys
import polars as pl
src, out = sys.argv[1], sys.argv[2]
schema = {"order_id": pl.Utf8, "customer_id": pl.Utf8, "order_date": pl.Date,
          "quantity": pl.Float64, "unit_price": pl.Float64}
lf = (pl.scan_csv(src, schema=schema).unique()
      .drop_nulls(["customer_id", "order_date"])
      .with_columns((pl.col("quantity") * pl.col("unit_price")).alias("amount"),
                    (pl.col("order_date").max() + pl.duration(days=1)).alias("as_of")))
p = (lf.filter(pl.col("amount") >= 0).group_by("customer_id")
     .agg(pl.col("order_date").max().alias("last"), pl.col("order_date").min().alias("first"),
          pl.col("order_id").n_unique().alias("frequency"), pl.col("as_of").first()))
m = lf.group_by("customer_id").agg(pl.col("amount").sum().alias("monetary"))
r = p.join(m, on="customer_id").select(
    "customer_id", (pl.col("as_of") - pl.col("last")).dt.total_days().alias("recency_days"),
    "frequency", "monetary", (pl.col("monetary") / pl.col("frequency")).alias("avg_order_value"),
    (pl.col("as_of") - pl.col("first")).dt.total_days().alias("tenure_days"))
r.collect().write_csv(out)
"""

from compare_sklearn import SKLEARN_BATCH as BATCH_SKLEARN  # noqa: E402  (same child script)


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr, flush=True)
    FAILURES.append(msg)


def med(xs):
    return statistics.median(xs)


def rm(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)


def warm(path):
    """Reads a file once so that every side finds it in the page cache."""
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def run(cmd, env):
    """Runs a whole process under GNU time; returns its stdout, wall seconds from start to exit
    and peak RSS in MB. Exits the script (with the child's stderr) when the child fails."""
    rss_file = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"custseg-e2e-rss-{os.getpid()}")
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file] + cmd, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        sys.stderr.write(p.stderr[-4000:])
        sys.exit(f"FAIL: {' '.join(cmd[:2])} … exited with status {p.returncode}")
    with open(rss_file) as f:
        rss_kb = float(f.read().split()[-1])
    os.remove(rss_file)
    return p.stdout, wall, rss_kb / 1024.0


class Side:
    """One contender: `cmd`, `prepare()` before each run (outside the timing) and
    `collect(stdout)` after it (outside the timing) returning a dict of results."""

    def __init__(self, name, cmd, prepare=None, collect=None):
        self.name, self.cmd = name, cmd
        self.prepare = prepare or (lambda: None)
        self.collect = collect or (lambda out: {})
        self.runs = []

    def wall(self):
        return med([r["wall"] for r in self.runs])

    def rss(self):
        return med([r["rss"] for r in self.runs])


def alternate(sides, reps, env, label, describe=lambda r: ""):
    """Runs every side `reps` times, rotating the order each rep so no side is always first."""
    for rep in range(reps):
        order = sides[rep % len(sides):] + sides[:rep % len(sides)]
        for s in order:
            s.prepare()
            out, wall, rss = run(s.cmd, env)
            r = {"wall": wall, "rss": rss}
            r.update(s.collect(out))
            s.runs.append(r)
            extra = describe(r)
            print(f"  {label} rep {rep + 1} {s.name}: {wall:.2f} s, peak RSS {rss:.0f} MB"
                  f"{', ' + extra if extra else ''}", flush=True)


def custseg_bins(a):
    """(column name, binary) of every custseg under test, the one under test first."""
    if a.custseg_before:
        return [("custseg", a.custseg), ("custseg before", a.custseg_before)]
    return [("custseg", a.custseg)]


def ratio(x, y):
    return f"{x / y:.2f}×" if y > 0 else "–"


def table_md(header, rows):
    print()
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()


def read_json(path):
    with open(path) as f:
        return json.load(f)


# ---------------------------------------------------------------- data


def generated(a, n):
    """`custseg generate --customers n --seed 1`, cached (syn1m is shared with
    compare_sklearn.py)."""
    d = os.path.join(a.data_dir, "syn1m" if n == 1_000_000 else f"syn_{n}_seed1")
    if os.path.exists(os.path.join(d, "transactions.csv")) and os.path.exists(os.path.join(d, "customers.csv")):
        return d
    tmp = f"{d}.tmp-{os.getpid()}"
    rm(tmp)
    print(f"  generating {n:,} customers into {d} …", flush=True)
    subprocess.run([a.custseg, "generate", "--customers", str(n), "--seed", "1", "--out", tmp],
                   check=True, stdout=subprocess.DEVNULL)
    rm(d)
    os.rename(tmp, d)
    return d


def make_table(path, n, d=10, k=8, seed=0):
    """customer_id,x1..x10: make_data's mixture of compare_sklearn.py (not standardized: both
    sides standardize)."""
    if os.path.exists(path):
        return
    import numpy as np
    import pandas as pd
    print(f"  writing the {n:,}-row table {path} …", flush=True)
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-1.5, 1.5, size=(k, d))
    scales = rng.uniform(0.8, 1.6, size=k)
    labels = rng.integers(0, k, size=n)
    x = centers[labels] + rng.standard_normal((n, d)) * scales[labels, None]
    df = pd.DataFrame(x, columns=[f"x{i + 1}" for i in range(d)])
    df.insert(0, "customer_id", [f"C{i:07d}" for i in range(1, n + 1)])
    tmp = path + ".tmp"
    df.to_csv(tmp, index=False, float_format="%.6f")
    os.replace(tmp, path)


def rfm_summary(path):
    import polars as pl
    df = pl.read_csv(path, schema_overrides={"customer_id": pl.Utf8})
    return {"customers": df.height, "sum_monetary": float(df["monetary"].sum()),
            "sum_frequency": int(df["frequency"].sum()), "sum_recency": int(df["recency_days"].sum()),
            "sum_tenure": int(df["tenure_days"].sum())}


# ---------------------------------------------------------------- sections


def section_table(a, env, work):
    import pandas as pd
    from sklearn.metrics import adjusted_rand_score
    n = a.table_rows
    src = os.path.join(a.data_dir, f"table_{n}x10_k8_seed0.csv")
    make_table(src, n)
    config = os.path.join(work, "table.toml")
    with open(config, "w") as f:
        f.write("".join(f'[features.x{i}]\ntransform = "none"\n' for i in range(1, 11)))
    warm(src)
    out_sk = os.path.join(work, "table_sklearn.csv")
    sk = Side("sklearn", [sys.executable, "-c", TABLE_SKLEARN, src, out_sk, "8", "10", "0"],
              prepare=lambda: rm(out_sk), collect=lambda out: json.loads(out))
    sides = [sk]
    for name, b in custseg_bins(a):
        models = os.path.join(work, f"table_models_{len(sides)}")

        def collect(out, models=models):
            v = os.path.join(models, "t", "v1")
            m, model = read_json(os.path.join(v, "metrics.json")), read_json(os.path.join(v, "model.json"))
            feats = model["features"]["features"]
            transforms = {f["name"]: f["encoding"].get("transform") for f in feats}
            if sorted(transforms) != sorted(f"x{i}" for i in range(1, 11)) or set(transforms.values()) != {"none"}:
                fail(f"table: custseg's features are not x1..x10 untransformed: {transforms}")
            return {"inertia": m["inertia"], "iterations": m.get("iterations"),
                    "assignments": os.path.join(v, "assignments.csv")}

        sides.append(Side(name, [b, "train", "--customers", src, "--k", "8", "--n-init", "10", "--seed", "0",
                                 "--config", config, "--models-dir", models, "--name", "t"],
                          prepare=lambda models=models: rm(models), collect=collect))
    alternate(sides, a.reps, env, "table",
              lambda r: f"inertia {r['inertia']:.8g}, iterations {r['iterations']}")
    labels_sk = pd.read_csv(out_sk, dtype={"customer_id": str}).set_index("customer_id")["segment_id"]
    if len(labels_sk) != n:
        fail(f"table: sklearn wrote {len(labels_sk)} rows, not {n}")
    si = sk.runs[0]["inertia"]
    header = ["rows × 10", "pandas + StandardScaler + KMeans + to_csv"] + [f"{s.name} train" for s in sides[1:]] \
        + [f"{s.name} / sklearn" for s in sides[1:]] + ["inertia sklearn"] + [s.name for s in sides[1:]] \
        + ["diff"] + ["ARI vs sklearn"] + ["peak RSS sklearn"] + [s.name for s in sides[1:]]
    diffs, aris = [], []
    for s in sides:
        if len({r["inertia"] for r in s.runs}) > 1:
            fail(f"table: {s.name}'s inertia differs between runs: {[r['inertia'] for r in s.runs]}")
    for s in sides[1:]:
        ci = s.runs[0]["inertia"]
        diff = (ci - si) / si
        diffs.append(f"{diff * 100:+.4f}%")
        if abs(diff) > a.inertia_tol:
            fail(f"table: {s.name} inertia {ci:.8g} vs sklearn {si:.8g} ({diff * 100:+.4g}%, tolerance {a.inertia_tol * 100:g}%)")
        cs = pd.read_csv(s.runs[-1]["assignments"], dtype={"customer_id": str}, usecols=["customer_id", "segment_id"])
        cs = cs.set_index("customer_id")["segment_id"]
        if len(cs) != n or not cs.index.isin(labels_sk.index).all():
            fail(f"table: {s.name} assigned {len(cs)} customers, not the table's {n}")
        aris.append(f"{adjusted_rand_score(labels_sk.reindex(cs.index).to_numpy(), cs.to_numpy()):.4f}")
    print(f"Customer table → segments: k = 8, n_init = 10, tol 1e-4, max_iter 300, {a.reps} alternating runs, "
          f"medians of whole-process wall time:")
    row = [f"{n:,}", f"{sk.wall():.2f} s"] + [f"{s.wall():.2f} s" for s in sides[1:]] \
        + [ratio(s.wall(), sk.wall()) for s in sides[1:]] + [f"{si:.8g}"] + [f"{s.runs[0]['inertia']:.8g}" for s in sides[1:]] \
        + [" / ".join(diffs), " / ".join(aris), f"{sk.rss():.0f} MB"] + [f"{s.rss():.0f} MB" for s in sides[1:]]
    table_md(header, [row])


def section_log(a, env, work):
    d = generated(a, a.log_customers)
    src = os.path.join(d, "transactions.csv")
    warm(src)
    out_duck, out_pl = os.path.join(work, "rfm_duckdb.csv"), os.path.join(work, "rfm_polars.csv")
    sides = [Side("DuckDB", [sys.executable, "-c", LOG_DUCKDB, src, out_duck, str(a.threads)],
                  prepare=lambda: rm(out_duck), collect=lambda out: rfm_summary(out_duck)),
             Side("polars", [sys.executable, "-c", LOG_POLARS, src, out_pl],
                  prepare=lambda: rm(out_pl), collect=lambda out: rfm_summary(out_pl))]
    for name, b in custseg_bins(a):
        models = os.path.join(work, f"log_models_{len(sides)}")

        def collect(out, models=models):
            v = os.path.join(models, "s", "v1")
            r = rfm_summary(os.path.join(v, "assignments.csv"))
            r["lines"] = read_json(os.path.join(v, "metrics.json"))["data"]["transactions"]["rows_read"]
            return r

        sides.append(Side(name, [b, "train", "--transactions", src, "--k", "4", "--n-init", "1",
                                 "--models-dir", models, "--name", "s"],
                          prepare=lambda models=models: rm(models), collect=collect))
    alternate(sides, a.reps, env, "log", lambda r: f"{r['customers']} customers, monetary {r['sum_monetary']:.2f}, "
                                                   f"frequency {r['sum_frequency']}")
    ref = sides[0].runs[0]
    for s in sides:
        for r in s.runs:
            bad = [key for key in ("customers", "sum_frequency", "sum_recency", "sum_tenure") if r[key] != ref[key]]
            if abs(r["sum_monetary"] - ref["sum_monetary"]) > 1e-6 * abs(ref["sum_monetary"]):
                bad.append("sum_monetary")
            if bad:
                fail(f"log: {s.name} disagrees with DuckDB on {', '.join(bad)}: "
                     f"{ {key: r[key] for key in bad} } vs { {key: ref[key] for key in bad} }")
                break
    duck, pol, cs = sides[0], sides[1], sides[2:]
    lines = cs[0].runs[0]["lines"]
    print(f"Transaction log → RFM (DuckDB, polars: RFM query written to CSV) / → trained model (custseg: "
          f"k = 4, n_init = 1), {lines:,} lines, {ref['customers']:,} customers (counts and sums agree), "
          f"{a.reps} alternating run(s), medians of whole-process wall time:")
    header = ["lines", "DuckDB", "polars"] + [f"{s.name} train" for s in cs] \
        + [f"{s.name} / DuckDB" for s in cs] + [f"{s.name} / polars" for s in cs] \
        + ["peak RSS DuckDB", "polars"] + [s.name for s in cs]
    row = [f"{lines:,}", f"{duck.wall():.2f} s", f"{pol.wall():.2f} s"] + [f"{s.wall():.2f} s" for s in cs] \
        + [ratio(s.wall(), duck.wall()) for s in cs] + [ratio(s.wall(), pol.wall()) for s in cs] \
        + [f"{duck.rss():.0f} MB", f"{pol.rss():.0f} MB"] + [f"{s.rss():.0f} MB" for s in cs]
    table_md(header, [row])


def custseg_train_sides(a, d, work, tag, extra):
    """custseg train on generated data `d` with `extra` flags, one side per binary; collects
    lines, k and the timings of metrics.json."""
    sides = []
    for name, b in custseg_bins(a):
        models = os.path.join(work, f"{tag}_models_{len(sides)}")

        def collect(out, models=models):
            m = read_json(os.path.join(models, "m", "v1", "metrics.json"))
            return {"lines": m["data"]["transactions"]["rows_read"], "k": m["k"], "timings": m.get("timings", {})}

        sides.append(Side(name, [b, "train", "--transactions", os.path.join(d, "transactions.csv")] + extra
                          + ["--models-dir", models, "--name", "m"],
                          prepare=lambda models=models: rm(models), collect=collect))
    return sides


def section_auto(a, env, work):
    n = a.auto_customers
    d = generated(a, n)
    warm(os.path.join(d, "transactions.csv"))
    sides = custseg_train_sides(a, d, work, "auto", ["--customers", os.path.join(d, "customers.csv"), "--k", "auto"])
    alternate(sides, a.auto_reps, env, "auto", lambda r: f"k = {r['k']}")
    for s in sides:
        if len({r["k"] for r in s.runs}) > 1:
            fail(f"auto: {s.name} chose different k between runs: {[r['k'] for r in s.runs]}")
    print(f"Transactions + customer table, k auto, {n:,} customers, {a.auto_reps} run(s) each, medians:")
    rows = []
    for s in sides:
        t = s.runs[0]["timings"]
        phases = ", ".join(f"{key[:-2]} {med([r['timings'].get(key, 0) for r in s.runs]):.1f}"
                           for key in t if key.endswith("_s") and key != "total_s")
        rows.append([s.name, f"{n:,}", f"{s.runs[0]['lines']:,}", f"{s.wall():.2f} s", f"{s.rss():.0f} MB",
                     str(s.runs[0]["k"]), phases])
    table_md(["binary", "customers", "lines", "wall", "peak RSS", "k", "metrics.json timings (s)"], rows)


def section_batch(a, env, work):
    import pandas as pd
    n = a.batch_customers
    d = generated(a, n)
    # The model of compare_sklearn.py's batch section (shared when n is 1M).
    models = os.path.join(a.data_dir, "models")
    name = "syn1m" if n == 1_000_000 else f"syn{n}"
    version = os.path.join(models, name, "v1")
    if not os.path.exists(os.path.join(version, "assignments.csv")):
        rm(os.path.join(models, name))
        print(f"  training the k = 8 model {version} …", flush=True)
        subprocess.run([a.custseg, "train", "--transactions", os.path.join(d, "transactions.csv"),
                        "--customers", os.path.join(d, "customers.csv"), "--k", "8", "--n-init", "3",
                        "--seed", "1", "--name", name, "--models-dir", models], check=True,
                       stdout=subprocess.DEVNULL)
    table = os.path.join(version, "assignments.csv")
    warm(table)
    out_sk = os.path.join(work, "batch_sklearn.csv")
    sides = [Side("sklearn", [sys.executable, "-c", BATCH_SKLEARN, os.path.join(version, "model.json"), table, out_sk],
                  prepare=lambda: rm(out_sk), collect=lambda out: json.loads(out))]
    for cname, b in custseg_bins(a):
        out = os.path.join(work, f"batch_custseg_{len(sides)}.csv")
        sides.append(Side(cname, [b, "score", "--model", version, "--input", table, "--output", out],
                          prepare=lambda out=out: rm(out), collect=lambda _, out=out: {"output": out}))
    alternate(sides, a.reps, env, "batch")
    sk = pd.read_csv(out_sk, dtype={"customer_id": str}).set_index("customer_id")["segment_id"]
    agrees = []
    for s in sides[1:]:
        cs = pd.read_csv(s.runs[-1]["output"], dtype={"customer_id": str}).set_index("customer_id")["segment_id"]
        agree = float((sk.reindex(cs.index) == cs).mean()) if len(cs) == len(sk) else 0.0
        agrees.append(f"{agree * 100:.4f}%")
        if agree < 1.0 or len(cs) != len(sk):
            fail(f"batch: {s.name}'s labels agree with sklearn's on {agree * 100:.4f}% ({len(cs)} vs {len(sk)} rows)")
    skw = sides[0]
    in_proc = med([r["total_s"] for r in skw.runs])
    print(f"Batch scoring {len(sk):,} customers from CSV to CSV (labels agree: {' / '.join(agrees)}), {a.reps} "
          f"alternating run(s), medians:")
    header = ["pandas + numpy + KMeans.predict + to_csv (whole process)", "same, in-process"] \
        + [f"{s.name} score" for s in sides[1:]] + [f"throughput {s.name} / sklearn" for s in sides[1:]] \
        + ["peak RSS sklearn"] + [s.name for s in sides[1:]]
    row = [f"{skw.wall():.2f} s", f"{in_proc:.2f} s"] + [f"{s.wall():.2f} s" for s in sides[1:]] \
        + [ratio(skw.wall(), s.wall()) for s in sides[1:]] + [f"{skw.rss():.0f} MB"] + [f"{s.rss():.0f} MB" for s in sides[1:]]
    table_md(header, [row])


def section_scaling(a, env, work):
    sizes = [int(x) for x in a.scaling_sizes.split(",")]
    results = []  # (n, sides)
    for n in sizes:
        d = generated(a, n)
        warm(os.path.join(d, "transactions.csv"))
        sides = custseg_train_sides(a, d, work, f"scaling{n}", ["--k", "4", "--n-init", "1"])
        alternate(sides, a.reps, env, f"scaling n={n:,}", lambda r: f"{r['lines']:,} lines")
        results.append((n, sides))
    print(f"custseg train (k = 4, n_init = 1) on generated logs, {a.reps} alternating run(s), medians; "
          f"step ratio = wall / wall of the previous size (limit {a.scaling_limit} × size ratio / 2):")
    names = [s.name for s in results[0][1]]
    header = ["customers", "lines"]
    for name in names:
        header += [f"{name} wall", "step ratio", "peak RSS", "RSS ratio"]
    rows = []
    for i, (n, sides) in enumerate(results):
        row = [f"{n:,}", f"{sides[0].runs[0]['lines']:,}"]
        for j, s in enumerate(sides):
            if i == 0:
                row += [f"{s.wall():.2f} s", "–", f"{s.rss():.0f} MB", "–"]
                continue
            pn, ps = results[i - 1][0], results[i - 1][1][j]
            step = s.wall() / ps.wall()
            limit = a.scaling_limit * (n / pn) / 2
            mark = "" if step <= limit else " (over)"
            if step > limit:
                fail(f"scaling: {s.name} {pn:,} → {n:,} customers took {step:.2f}× as long (limit {limit:.2f}×)")
            row += [f"{s.wall():.2f} s", f"{step:.2f}×{mark}", f"{s.rss():.0f} MB", ratio(s.rss(), ps.rss())]
        rows.append(row)
    table_md(header, rows)


# ---------------------------------------------------------------- main


def versions(a, env):
    import duckdb
    import numpy
    import pandas
    import polars
    import pyarrow
    import sklearn
    import threadpoolctl
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 1024 / 1024:.1f} GB"
    except OSError:
        pass
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    print(f"machine: nproc {nproc}, {cpu}, {mem} RAM, {platform.platform()}")
    print(f"threads per side: {a.threads}")
    for name, b in custseg_bins(a):
        v = subprocess.run([b, "--version"], capture_output=True, text=True).stdout.strip()
        st = os.stat(b)
        print(f"{name}: {b} ({v}, built {time.strftime('%Y-%m-%d %H:%M', time.localtime(st.st_mtime))}, "
              f"{st.st_size / 1e6:.0f} MB)")
    print(f"python {platform.python_version()}, numpy {numpy.__version__}, pandas {pandas.__version__}, "
          f"scikit-learn {sklearn.__version__}, duckdb {duckdb.__version__}, polars {polars.__version__}, "
          f"pyarrow {pyarrow.__version__}, threadpoolctl {threadpoolctl.__version__}")
    for info in threadpoolctl.threadpool_info():
        print(f"  {info.get('internal_api')}: {info.get('num_threads')} threads "
              f"({info.get('filepath', '').split('/')[-1]})")
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--custseg", required=True)
    ap.add_argument("--custseg-before", help="a second custseg binary run in the same alternation")
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--sections", default="table,log,auto,batch,scaling")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--auto-reps", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--table-rows", type=int, default=1_000_000)
    ap.add_argument("--log-customers", type=int, default=200_000)
    ap.add_argument("--auto-customers", type=int, default=1_000_000)
    ap.add_argument("--batch-customers", type=int, default=1_000_000)
    ap.add_argument("--scaling-sizes", default="250000,500000,1000000,2000000")
    ap.add_argument("--scaling-limit", type=float, default=2.1,
                    help="largest wall-time ratio allowed for a doubling of the customers")
    ap.add_argument("--inertia-tol", type=float, default=0.01,
                    help="largest relative difference of the table section's inertias")
    a = ap.parse_args()
    sections = a.sections.split(",")
    unknown = set(sections) - {"table", "log", "auto", "batch", "scaling"}
    if unknown:
        ap.error(f"unknown sections: {', '.join(sorted(unknown))}")
    a.custseg = os.path.abspath(a.custseg)
    if a.custseg_before:
        a.custseg_before = os.path.abspath(a.custseg_before)
    a.data_dir = os.path.abspath(a.data_dir)
    for b in [a.custseg] + ([a.custseg_before] if a.custseg_before else []):
        if not os.access(b, os.X_OK):
            sys.exit(f"FAIL: {b} is not an executable")
    if not os.access("/usr/bin/time", os.X_OK):
        sys.exit("FAIL: GNU time (/usr/bin/time) is needed for peak RSS")
    # Before numpy is imported here, so that threadpoolctl reports what the children get.
    t = str(a.threads)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS",
                "POLARS_MAX_THREADS"):
        os.environ[var] = t
    env = dict(os.environ)
    os.makedirs(a.data_dir, exist_ok=True)
    work = os.path.join(a.data_dir, f"e2e-work-{os.getpid()}")
    os.makedirs(work)
    try:
        versions(a, env)
        for name, fn in [("table", section_table), ("log", section_log), ("auto", section_auto),
                         ("batch", section_batch), ("scaling", section_scaling)]:
            if name in sections:
                print(f"## {name}", flush=True)
                fn(a, env, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed:", file=sys.stderr)
        for f in FAILURES:
            print(f"  FAIL: {f}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
