#!/usr/bin/env python3
"""custseg's value models vs lifetimes 0.11.3 on the same simulated summary, whole fits, in
alternating runs. Run through benches/compare_value.sh (venv + release build of the example).

Data: a seeded Pareto/NBD population (r 0.5534, alpha 74.1 days, s 0.6061, beta 81.6 days: the
CDNOW fit), ages uniform over a year, whole days (T = ceil(age), t_x = floor), each repeat
buyer's mean order value from Gamma-Gamma (p 6.25, q 3.74, v 15.45); written once as a CSV
(frequency, recency, T, monetary_value) that both sides read.

Each side is one process per run that reads the CSV and fits BG/NBD, Pareto/NBD and
Gamma-Gamma (on repeat buyers with a positive spend) with its defaults:
- lifetimes: BetaGeoFitter / ParetoNBDFitter / GammaGammaFitter(penalizer_coef=0).fit(...);
  the fit times are of those calls, measured inside the process.
- custseg: `value_cdnow summary CSV OUT --fit-only`, its own fit times, with rayon's default
  thread count and with RAYON_NUM_THREADS=1 (lifetimes runs on one core).
Times are medians of --reps runs whose order rotates; peak RSS of each whole process (reading
included) is from GNU time. Parameter agreement is the largest relative difference of the
parameters; "delta ll" is the mean log-likelihood per customer at custseg's parameters minus
that at lifetimes', both by lifetimes' own formulas (positive: custseg found the higher
likelihood), and "same ll" checks that custseg's reported log-likelihood is lifetimes'
formula at custseg's parameters. custseg's evaluation count and stop are those of its
optimizer: "gradient" met the 1e-8 test, "stalled" found no further decrease at floating-point
resolution within 100x of it (accepted, but after many more evaluations). Sizes above
--lifetimes-max are fitted by custseg only.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

TRUTH = {"r": 0.5534, "alpha": 74.1, "s": 0.6061, "beta": 81.6}
SPEND = {"p": 6.25, "q": 3.74, "v": 15.45}
NAMES = {"bg_nbd": ["r", "alpha", "a", "b"], "pareto_nbd": ["r", "alpha", "s", "beta"], "gamma_gamma": ["p", "q", "v"]}
TITLES = {"bg_nbd": "BG/NBD", "pareto_nbd": "Pareto/NBD", "gamma_gamma": "Gamma-Gamma"}

LIFETIMES_CHILD = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import numpy as np, pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter
df = pd.read_csv(sys.argv[1])
f, r, T = df["frequency"], df["recency"], df["T"]
out = {}
def timed(key, fit):
    t = time.perf_counter()
    m = fit()
    out[key] = {"fit_s": time.perf_counter() - t, "params": {k: float(v) for k, v in m.params_.items()}}
timed("bg_nbd", lambda: BetaGeoFitter(penalizer_coef=0.0).fit(f, r, T))
np.random.seed(0)  # ParetoNBDFitter starts from N(1, 0.05) draws
timed("pareto_nbd", lambda: ParetoNBDFitter(penalizer_coef=0.0).fit(f, r, T))
rep = df[(df["frequency"] > 0) & (df["monetary_value"] > 0)]
timed("gamma_gamma", lambda: GammaGammaFitter(penalizer_coef=0.0).fit(rep["frequency"], rep["monetary_value"]))
print(json.dumps(out))
"""


def make_summary(path, n, seed):
    if os.path.exists(path):
        return
    rng = np.random.default_rng(seed)
    lam = rng.gamma(TRUTH["r"], 1.0 / TRUTH["alpha"], n)
    mu = rng.gamma(TRUTH["s"], 1.0 / TRUTH["beta"], n)
    age = 365.0 * (1.0 - rng.random(n))
    alive = np.minimum(age, rng.exponential(1.0, n) / mu)
    x = rng.poisson(lam * alive)
    # The last of x uniform purchase times on (0, alive].
    t_x = np.where(x > 0, alive * rng.random(n) ** (1.0 / np.maximum(x, 1)), 0.0)
    nu = rng.gamma(SPEND["q"], 1.0 / SPEND["v"], n)
    # The mean of x Gamma(p, rate nu) orders is Gamma(p x, rate nu x).
    m = np.where(x > 0, rng.gamma(SPEND["p"] * np.maximum(x, 1), 1.0 / (nu * np.maximum(x, 1))), 0.0)
    df = pd.DataFrame({"frequency": x, "recency": np.floor(t_x).astype(np.int64),
                       "T": np.ceil(age).astype(np.int64), "monetary_value": m})
    tmp = path + ".tmp"
    df.to_csv(tmp, index=False, float_format="%.17g")
    os.replace(tmp, path)


def run(cmd, env=None, json_path=None):
    """Runs a child under GNU time: its JSON (last stdout line, or the file `json_path`), wall
    seconds and peak RSS in MB."""
    with tempfile.NamedTemporaryFile(suffix=".rss", delete=False) as f:
        rss_file = f.name
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file] + cmd, stdout=subprocess.PIPE,
                       env=env, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"{cmd[0]} failed with status {p.returncode}")
    with open(rss_file) as f:
        rss_kb = float(f.read().split()[-1])
    os.remove(rss_file)
    if json_path is None:
        out = json.loads(p.stdout.strip().splitlines()[-1])
    else:
        with open(json_path) as f:
            out = json.load(f)
    return out, wall, rss_kb / 1024.0


def run_custseg(binary, csv, threads):
    env = dict(os.environ)
    if threads:
        env["RAYON_NUM_THREADS"] = str(threads)
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    try:
        res, wall, rss = run([binary, "summary", csv, out, "--fit-only"], env, json_path=out)
    finally:
        os.unlink(out)
    fits = {key: {"fit_s": res["fit_ms"][key] / 1e3, "params": res[key].get("params"),
                  "convergence": res[key].get("convergence", {})} for key in NAMES}
    fits["threads"] = res["threads"]
    return fits, wall, rss


def mean_ll(key, params, df):
    """Mean log-likelihood per customer by lifetimes' own formula (unpenalized)."""
    from lifetimes import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter

    p = [params[k] for k in NAMES[key]]
    if key == "bg_nbd":
        f, r, T = (df[c].to_numpy(float) for c in ["frequency", "recency", "T"])
        return -BetaGeoFitter._negative_log_likelihood(np.log(p), f, r, T, np.ones_like(f), 0.0)
    if key == "pareto_nbd":
        f, r, T = (df[c].to_numpy(float) for c in ["frequency", "recency", "T"])
        return float(np.mean(ParetoNBDFitter._conditional_log_likelihood(p, f, r, T)))
    rep = df[(df["frequency"] > 0) & (df["monetary_value"] > 0)]
    x, m = rep["frequency"].to_numpy(float), rep["monetary_value"].to_numpy(float)
    return -GammaGammaFitter._negative_log_likelihood(np.log(p), x, m, np.ones_like(x), 0.0)


def customers_of(key, df):
    if key == "gamma_gamma":
        return int(((df["frequency"] > 0) & (df["monetary_value"] > 0)).sum())
    return len(df)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--custseg", required=True, help="the value_cdnow example binary")
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--lifetimes-max", type=int, default=100_000,
                    help="largest size lifetimes is run on (its Pareto/NBD fit grows past minutes)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    os.makedirs(a.data_dir, exist_ok=True)
    import lifetimes
    import scipy

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start; "
          f"lifetimes {lifetimes.__version__} (numpy {np.__version__}, pandas {pd.__version__}, scipy {scipy.__version__})")
    print("lifetimes fit() defaults: BetaGeoFitter and GammaGammaFitter = scipy BFGS on autograd gradients, tol 1e-7,")
    print("  then the autograd Hessian (standard errors); ParetoNBDFitter = Nelder-Mead, tol 1e-4, maxiter 2000.")
    print("custseg: BFGS on exact gradients to a gradient of 1e-8 per customer, identical (x, t_x, T) merged into weights.")
    table, memory = [], []
    for n in [int(s) for s in a.sizes.split(",")]:
        csv = os.path.join(a.data_dir, f"value_summary_{n}_seed{a.seed}.csv")
        make_summary(csv, n, a.seed)
        df = pd.read_csv(csv)
        with_lifetimes = n <= a.lifetimes_max
        jobs = [("custseg", 0), ("custseg_1", 1)] + ([("lifetimes", None)] if with_lifetimes else [])
        runs = {name: [] for name, _ in jobs}
        for rep in range(a.reps):
            order = jobs[rep % len(jobs):] + jobs[:rep % len(jobs)]
            for name, threads in order:
                if name == "lifetimes":
                    res = run([sys.executable, "-c", LIFETIMES_CHILD, csv])
                else:
                    res = run_custseg(a.custseg, csv, threads)
                runs[name].append(res)
                fits, wall, rss = res
                times = ", ".join(f"{TITLES[k]} {fits[k]['fit_s']:.3f} s" for k in NAMES)
                print(f"  n={n:,} rep {rep + 1} {name}: {times}; process {wall:.2f} s, peak RSS {rss:.0f} MB", flush=True)
        med = lambda name, f: statistics.median(f(r) for r in runs[name])  # noqa: E731
        for name in runs:
            for key in NAMES:
                first = runs[name][0][0][key]["params"]
                if any(r[0][key]["params"] != first for r in runs[name][1:]):
                    print(f"  note: {name} {key} parameters differ between runs")
        for key in NAMES:
            row = {"n": n, "key": key, "customers": customers_of(key, df),
                   "custseg": med("custseg", lambda r: r[0][key]["fit_s"]),
                   "custseg_1": med("custseg_1", lambda r: r[0][key]["fit_s"])}
            ours = runs["custseg"][0][0][key]["params"]
            conv = runs["custseg"][0][0][key]["convergence"]
            row["custseg_stop"] = f"{conv.get('evaluations')} ({conv.get('termination')})"
            row["params"] = {"custseg": ours}
            if ours is not None and with_lifetimes:
                theirs = runs["lifetimes"][0][0][key]["params"]
                row["params"]["lifetimes"] = theirs
                row["lifetimes"] = med("lifetimes", lambda r: r[0][key]["fit_s"])
                row["param_rel"] = max(abs(ours[k] - theirs[k]) / abs(theirs[k]) for k in NAMES[key])
                ll_ours, ll_theirs = mean_ll(key, ours, df), mean_ll(key, theirs, df)
                row["delta_ll"] = ll_ours - ll_theirs
                reported = conv["log_likelihood"] / row["customers"]
                row["same_ll"] = abs(reported - ll_ours) / abs(ll_ours)
            table.append(row)
        memory.append((n, {name: statistics.median(r[2] for r in runs[name]) for name in runs},
                       {name: statistics.median(r[1] for r in runs[name]) for name in runs}))
    threads = runs["custseg"][0][0]["threads"]
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end. Fit times, medians of {a.reps} rotating runs:\n")
    print(f"| customers | model | lifetimes | custseg ({threads} threads) | custseg (1 thread) | lifetimes / custseg (1 thread) "
          "| custseg evaluations (stop) | max rel. param diff | delta ll / customer | same ll |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in table:
        label = f"{r['n']:,}" + (f" ({r['customers']:,} repeat buyers)" if r["key"] == "gamma_gamma" else "")
        if "lifetimes" in r:
            print(f"| {label} | {TITLES[r['key']]} | {r['lifetimes']:.3f} s | {r['custseg']:.3f} s | {r['custseg_1']:.3f} s "
                  f"| {r['lifetimes'] / r['custseg_1']:.0f}× | {r['custseg_stop']} | {r['param_rel']:.1e} | {r['delta_ll']:+.1e} "
                  f"| {r['same_ll']:.0e} |")
        else:
            print(f"| {label} | {TITLES[r['key']]} | not run | {r['custseg']:.3f} s | {r['custseg_1']:.3f} s | "
                  f"| {r['custseg_stop']} | | | |")
    print("\nParameters (caller's units: days, money):")
    for r in table:
        for who, p in r["params"].items():
            if p is not None:
                values = ", ".join(f"{k} {p[k]:.6g}" for k in NAMES[r["key"]])
                print(f"  {r['n']:>9,} {TITLES[r['key']]:11s} {who:9s} {values}")
    print("\nWhole processes (read the CSV, three fits), medians:\n")
    print(f"| customers | lifetimes wall | peak RSS | custseg ({threads} threads) wall | peak RSS | custseg (1 thread) wall | peak RSS |")
    print("|---|---|---|---|---|---|---|")
    for n, rss, wall in memory:
        lt = f"{wall['lifetimes']:.2f} s | {rss['lifetimes']:.0f} MB" if "lifetimes" in rss else "not run | "
        print(f"| {n:,} | {lt} | {wall['custseg']:.2f} s | {rss['custseg']:.0f} MB | {wall['custseg_1']:.2f} s | {rss['custseg_1']:.0f} MB |")
    skipped = [r for r in table if "lifetimes" not in r]
    if skipped:
        pn = [r for r in table if "lifetimes" in r and r["key"] == "pareto_nbd"]
        hint = f" (its Pareto/NBD fit alone took {pn[-1]['lifetimes']:.0f} s at {pn[-1]['n']:,})" if pn else ""
        print(f"\nlifetimes was not run above {a.lifetimes_max:,} customers{hint}: its fits are per-row numpy over all "
              "customers per evaluation, so 10× the rows take ≥ 10× as long, times the reps.")


if __name__ == "__main__":
    main()
