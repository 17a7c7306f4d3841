#!/usr/bin/env python3
"""custseg vs scikit-learn k-means on identical data, in one run, alternating.

Run through benches/compare_sklearn.sh, which makes the venv and builds custseg. Generates a
seeded Gaussian mixture (n x 10, 8 components, standardized) once per size as .npy, then for
each repetition runs scikit-learn's KMeans (lloyd, k-means++, n_init, tol 1e-4, max_iter 300)
and `custseg bench-kmeans` (same parameters) as separate processes, alternating which goes
first. Reports median fit wall time (timed inside each process, loading excluded), the ratio,
best inertia and its relative difference, and peak RSS of each whole process (GNU time).
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


def run(cmd):
    """Runs a child under /usr/bin/time; returns its JSON output, wall seconds and peak RSS in
    MB. (wait4's ru_maxrss would count pages the forked child shared with this process.)"""
    t = time.perf_counter()
    rss_file = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"custseg-bench-rss-{os.getpid()}")
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file] + cmd, stdout=subprocess.PIPE)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"{cmd[0]} failed with status {p.returncode}")
    with open(rss_file) as f:
        rss_kb = float(f.read().split()[-1])
    os.remove(rss_file)
    return json.loads(p.stdout), wall, rss_kb / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--custseg", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--n-init", type=int, default=10)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    os.makedirs(a.data_dir, exist_ok=True)
    import sklearn
    import threadpoolctl

    print(f"machine: {os.cpu_count()} cores; scikit-learn {sklearn.__version__}, numpy {np.__version__}")
    for info in threadpoolctl.threadpool_info():
        print(f"  {info.get('internal_api')}: {info.get('num_threads')} threads ({info.get('filepath', '').split('/')[-1]})")
    rows = []
    for n in [int(s) for s in a.sizes.split(",")]:
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
    print()
    print(f"k = {a.k}, n_init = {a.n_init}, tol 1e-4, max_iter 300, {a.reps} alternating runs each, medians:")
    print()
    print("| rows × 10 | scikit-learn fit | custseg fit | ratio | best inertia sklearn | custseg | diff | peak RSS sklearn | custseg |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, sf, cf, si, ci, sr, cr in rows:
        print(f"| {n:,} | {sf:.3f} s | {cf:.3f} s | {cf / sf:.2f}× | {si:.6g} | {ci:.6g} | "
              f"{(ci - si) / si * 100:+.4f}% | {sr:.0f} MB | {cr:.0f} MB |")


if __name__ == "__main__":
    main()
