#!/usr/bin/env python3
"""custseg vs the Python stack a data scientist would use, on identical data, in one run,
alternating which side goes first. Run through benches/compare_sklearn.sh (venv + build).

Sections (--sections fit,rfm,batch):
- fit: a seeded Gaussian mixture (n x 10, 8 overlapping components, standardized) saved as
  .npy; scikit-learn KMeans (lloyd, k-means++, n_init, tol 1e-4, max_iter 300) against
  `custseg bench-kmeans` with the same parameters. Fit time is measured inside each process
  (loading excluded); best inertia and its relative difference are compared.
- rfm: the first 10M lines of `custseg generate --customers 1000000 --seed 1`; pandas
  read_csv + drop_duplicates + groupby (recency, frequency = distinct orders, monetary, tenure,
  average order value) against `custseg bench-rfm` (the trainer's reader and compute_rfm).
  Both sides' sums of monetary and frequency must agree.
- batch: the 1M-customer feature table (`assignments.csv` of a k = 8 model trained on that
  generated data); pandas read_csv + the model's scaling/one-hot in numpy + KMeans.predict +
  to_csv against `custseg score`. Both sides' labels must agree on every customer.
Times are medians of --reps runs; peak RSS of each whole process is from GNU time.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

SKLEARN_CHILD = r"""
import json, sys, time
import numpy as np
from sklearn.cluster import KMeans
X = np.load(sys.argv[1])
k, n_init, seed = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
t = time.perf_counter()
m = KMeans(n_clusters=k, n_init=n_init, init="k-means++", algorithm="lloyd",
           max_iter=300, tol=1e-4, random_state=seed).fit(X)
fit = time.perf_counter() - t
print(json.dumps({"fit_s": fit, "inertia": float(m.inertia_), "iterations": int(m.n_iter_)}))
"""


PANDAS_RFM = r"""
import json, sys, time
import pandas as pd
t = time.perf_counter()
df = pd.read_csv(sys.argv[1], dtype={"order_id": str, "customer_id": str},
                 parse_dates=["order_date"], date_format="%Y-%m-%d")
df = df.dropna(subset=["customer_id", "order_date"]).drop_duplicates()
df["amount"] = df["quantity"] * df["unit_price"]
as_of = df["order_date"].max() + pd.Timedelta(days=1)
pos = df[df["amount"] >= 0]
g = pos.groupby("customer_id").agg(last=("order_date", "max"), first=("order_date", "min"),
                                   frequency=("order_id", "nunique"))
rfm = g.join(df.groupby("customer_id")["amount"].sum().rename("monetary"))
rfm["recency_days"] = (as_of - rfm["last"]).dt.days
rfm["tenure_days"] = (as_of - rfm["first"]).dt.days
rfm["avg_order_value"] = rfm["monetary"] / rfm["frequency"]
total = time.perf_counter() - t
print(json.dumps({"total_s": total, "customers": len(rfm),
                  "sum_monetary": float(rfm["monetary"].sum()),
                  "sum_frequency": float(rfm["frequency"].sum())}))
"""

SKLEARN_BATCH = r"""
import json, sys, time
import numpy as np, pandas as pd
from sklearn.cluster import KMeans
model = json.load(open(sys.argv[1]))
t = time.perf_counter()
feats = model["features"]["features"]
dtypes = {f["name"]: str for f in feats if f["encoding"]["kind"] == "categorical"}
dtypes["customer_id"] = str
df = pd.read_csv(sys.argv[2], dtype=dtypes)
blocks = []
for f in feats:
    e, w = f["encoding"], np.sqrt(f["weight"])
    if e["kind"] == "numeric":
        x = df[f["name"]].fillna(e["impute"]).to_numpy(dtype=float)
        if e["transform"] == "log1p":
            x = np.log1p(x)
        blocks.append(((x - e["mean"]) / e["std"] * w)[:, None])
    else:
        col = df[f["name"]].fillna(e["impute"]).str.strip()
        onehot = np.stack([(col == lv).to_numpy(dtype=float) for lv in e["levels"]], axis=1)
        blocks.append((onehot - np.asarray(e["shares"])) * e["scale"] * w)
X = np.hstack(blocks)
C = np.asarray(model["centroids"])
km = KMeans(n_clusters=len(C), init=C, n_init=1, max_iter=1).fit(C)
labels = km.predict(X)
pd.DataFrame({"customer_id": df["customer_id"], "segment_id": labels}).to_csv(sys.argv[3], index=False)
print(json.dumps({"total_s": time.perf_counter() - t, "rows": len(df)}))
"""


def make_data(path, n, d=10, k=8, seed=0):
    if os.path.exists(path):
        return
    rng = np.random.default_rng(seed)
    # Overlapping components, so k-means needs tens of iterations as on real data.
    centers = rng.uniform(-1.5, 1.5, size=(k, d))
    scales = rng.uniform(0.8, 1.6, size=k)
    labels = rng.integers(0, k, size=n)
    x = centers[labels] + rng.standard_normal((n, d)) * scales[labels, None]
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    tmp = path + ".tmp.npy"
    np.save(tmp, np.ascontiguousarray(x, dtype="<f8"))
    os.replace(tmp, path)


def run(cmd, json_out=True):
    """Runs a child under /usr/bin/time; returns its JSON output (None when `json_out` is
    false), wall seconds from start to exit, and peak RSS in MB. (wait4's ru_maxrss would
    count pages the forked child shared with this process.)"""
    t = time.perf_counter()
    rss_file = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"custseg-bench-rss-{os.getpid()}")
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file] + cmd,
                       stdout=subprocess.PIPE if json_out else subprocess.DEVNULL)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"{cmd[0]} failed with status {p.returncode}")
    with open(rss_file) as f:
        rss_kb = float(f.read().split()[-1])
    os.remove(rss_file)
    return (json.loads(p.stdout) if json_out else None), wall, rss_kb / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--custseg", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--n-init", type=int, default=10)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sections", default="fit,rfm,batch")
    a = ap.parse_args()
    sections = a.sections.split(",")
    os.makedirs(a.data_dir, exist_ok=True)
    import sklearn
    import threadpoolctl

    print(f"machine: {os.cpu_count()} cores; scikit-learn {sklearn.__version__}, numpy {np.__version__}")
    for info in threadpoolctl.threadpool_info():
        print(f"  {info.get('internal_api')}: {info.get('num_threads')} threads ({info.get('filepath', '').split('/')[-1]})")
    rows = []
    for n in [int(s) for s in a.sizes.split(",")] if "fit" in sections else []:
        path = os.path.join(a.data_dir, f"gmm2_{n}x10_k8_seed{a.seed}.npy")
        make_data(path, n, seed=a.seed)
        sk, cs = [], []
        for rep in range(a.reps):
            jobs = [
                ("sklearn", [sys.executable, "-c", SKLEARN_CHILD, path, str(a.k), str(a.n_init), str(a.seed)]),
                ("custseg", [a.custseg, "bench-kmeans", "--npy", path, "--k", str(a.k),
                             "--n-init", str(a.n_init), "--seed", str(a.seed)]),
            ]
            if rep % 2:
                jobs.reverse()
            for name, cmd in jobs:
                out, wall, rss = run(cmd)
                (sk if name == "sklearn" else cs).append((out, wall, rss))
                print(f"  n={n} rep {rep + 1} {name}: fit {out['fit_s']:.3f} s, inertia {out['inertia']:.6g}, "
                      f"iterations {out['iterations']}, peak RSS {rss:.0f} MB", flush=True)
        med = lambda xs: statistics.median(xs)
        sk_fit, cs_fit = med([o["fit_s"] for o, _, _ in sk]), med([o["fit_s"] for o, _, _ in cs])
        sk_in, cs_in = min(o["inertia"] for o, _, _ in sk), min(o["inertia"] for o, _, _ in cs)
        sk_rss, cs_rss = med([r for _, _, r in sk]), med([r for _, _, r in cs])
        rows.append((n, sk_fit, cs_fit, sk_in, cs_in, sk_rss, cs_rss))
    if rows:
        print()
        print(f"k-means fit: k = {a.k}, n_init = {a.n_init}, tol 1e-4, max_iter 300, {a.reps} alternating runs each, medians:")
        print()
        print("| rows × 10 | scikit-learn fit | custseg fit | ratio | best inertia sklearn | custseg | diff | peak RSS sklearn | custseg |")
        print("|---|---|---|---|---|---|---|---|---|")
        for n, sf, cf, si, ci, sr, cr in rows:
            print(f"| {n:,} | {sf:.3f} s | {cf:.3f} s | {cf / sf:.2f}× | {si:.6g} | {ci:.6g} | "
                  f"{(ci - si) / si * 100:+.4f}% | {sr:.0f} MB | {cr:.0f} MB |")
    if "rfm" in sections or "batch" in sections:
        syn = os.path.join(a.data_dir, "syn1m")
        if not os.path.exists(os.path.join(syn, "customers.csv")):
            subprocess.run([a.custseg, "generate", "--customers", "1000000", "--seed", "1", "--out", syn], check=True)
    if "rfm" in sections:
        log10m = os.path.join(a.data_dir, "transactions_10m.csv")
        if not os.path.exists(log10m):
            with open(os.path.join(syn, "transactions.csv"), "rb") as src, open(log10m + ".tmp", "wb") as dst:
                for i, line in enumerate(src):
                    if i > 10_000_000:
                        break
                    dst.write(line)
            os.replace(log10m + ".tmp", log10m)
        pd_runs, cs_runs = [], []
        for rep in range(a.reps):
            jobs = [("pandas", [sys.executable, "-c", PANDAS_RFM, log10m]),
                    ("custseg", [a.custseg, "bench-rfm", "--transactions", log10m])]
            if rep % 2:
                jobs.reverse()
            for name, cmd in jobs:
                out, wall, rss = run(cmd)
                (pd_runs if name == "pandas" else cs_runs).append((out, wall, rss))
                print(f"  rfm rep {rep + 1} {name}: {out['total_s']:.3f} s, {out['customers']} customers, "
                      f"monetary {out['sum_monetary']:.2f}, frequency {out['sum_frequency']:.0f}, peak RSS {rss:.0f} MB", flush=True)
        po, co = pd_runs[0][0], cs_runs[0][0]
        if po["customers"] != co["customers"] or abs(po["sum_monetary"] - co["sum_monetary"]) > 1e-6 * abs(po["sum_monetary"]) \
                or po["sum_frequency"] != co["sum_frequency"]:
            sys.exit(f"RFM results differ: pandas {po} vs custseg {co}")
        med = statistics.median
        pt, ct = med([o["total_s"] for o, _, _ in pd_runs]), med([o["total_s"] for o, _, _ in cs_runs])
        print()
        print(f"RFM from 10,000,000 transaction lines ({co['customers']:,} customers; sums agree), {a.reps} runs, medians:")
        print()
        print("| pandas read_csv + dedupe + groupby | custseg reader + compute_rfm | ratio | peak RSS pandas | custseg |")
        print("|---|---|---|---|---|")
        print(f"| {pt:.2f} s | {ct:.2f} s | {ct / pt:.2f}× | {med([r for _, _, r in pd_runs]):.0f} MB | {med([r for _, _, r in cs_runs]):.0f} MB |")
    if "batch" in sections:
        models = os.path.join(a.data_dir, "models")
        version = os.path.join(models, "syn1m", "v1")
        if not os.path.exists(os.path.join(version, "assignments.csv")):
            subprocess.run([a.custseg, "train", "--transactions", os.path.join(syn, "transactions.csv"),
                            "--customers", os.path.join(syn, "customers.csv"), "--k", "8", "--n-init", "3",
                            "--seed", "1", "--name", "syn1m", "--models-dir", models], check=True,
                           stdout=subprocess.DEVNULL)
        table = os.path.join(version, "assignments.csv")
        out_sk, out_cs = os.path.join(a.data_dir, "batch_sklearn.csv"), os.path.join(a.data_dir, "batch_custseg.csv")
        sk_runs, cs_runs = [], []
        for rep in range(a.reps):
            jobs = [("sklearn", [sys.executable, "-c", SKLEARN_BATCH, os.path.join(version, "model.json"), table, out_sk]),
                    ("custseg", [a.custseg, "score", "--model", version, "--input", table, "--output", out_cs])]
            if rep % 2:
                jobs.reverse()
            for name, cmd in jobs:
                t = time.perf_counter()
                if name == "custseg":
                    _, wall, rss = run(cmd, json_out=False)
                    cs_runs.append((wall, rss))
                else:
                    out, wall, rss = run(cmd)
                    sk_runs.append((out["total_s"], rss, wall))
                print(f"  batch rep {rep + 1} {name}: {(cs_runs if name == 'custseg' else sk_runs)[-1][0]:.3f} s, "
                      f"peak RSS {rss:.0f} MB", flush=True)
        import pandas as pd
        a_ = pd.read_csv(out_sk, dtype={"customer_id": str}).set_index("customer_id")["segment_id"]
        b_ = pd.read_csv(out_cs, dtype={"customer_id": str}).set_index("customer_id")["segment_id"]
        agree = float((a_.reindex(b_.index) == b_).mean())
        med = statistics.median
        st, ct = med([x[0] for x in sk_runs]), med([x for x, _ in cs_runs])
        sw = med([x[2] for x in sk_runs])
        print()
        print(f"Batch scoring {len(b_):,} customers from CSV to CSV (labels agree on {agree * 100:.4f}%), {a.reps} runs, medians:")
        print()
        print("| pandas + numpy + KMeans.predict + to_csv (in-process) | same, whole process | custseg score (whole process) | throughput ratio (in-process / whole) | peak RSS sklearn | custseg |")
        print("|---|---|---|---|---|---|")
        print(f"| {st:.2f} s | {sw:.2f} s | {ct:.2f} s | {st / ct:.2f}× / {sw / ct:.2f}× | {med([x[1] for x in sk_runs]):.0f} MB | {med([r for _, r in cs_runs]):.0f} MB |")
        if agree < 1.0:
            sys.exit("batch labels differ")


if __name__ == "__main__":
    main()
