"""Checks custseg's value models (src/value) against lifetimes 0.11.3 on CDNOW.

Run by scripts/verify_value.sh, which builds `examples/value_cdnow.rs` and passes its binary.

1. Folds data/public/CDNOW_master.txt with lifetimes' summary_data_from_transaction_data
   (observation_period_end 1997-09-30, freq "D", amounts summed per day) and checks that
   custseg's fold gives the same x, t_x, T and m for every customer.
2. Fits BetaGeoFitter, ParetoNBDFitter and GammaGammaFitter (penalizer 0) on that summary and
   checks custseg's parameters within 1%. ParetoNBDFitter's default Nelder-Mead stops at
   tol=1e-4, so it is also refitted from its own answer with tol=1e-10 ("tight").
3. Per customer (all 23,570): P(alive) and expected purchases over 273 days (39 weeks)
   - lifetimes' formulas evaluated at custseg's parameters vs custseg: within 1e-4 relative
     (this checks the formulas);
   - each at its own fit (end to end): reported, and within 1e-4 relative for BG/NBD.
   and the 360-day CLV at 10 %/year vs customer_lifetime_value(time=12, freq="D").
4. End to end through the CLI: `custseg train --as-of 1997-10-01 --keep-duplicates` (every
   line kept, as lifetimes keeps them) for BG/NBD and for Pareto/NBD: `value_model` in
   model.json within 1% of lifetimes, `p_alive` and `expected_orders` (273 days) of every
   customer in assignments.csv within 1e-4 relative of lifetimes at its own fit; and `train
   --holdout-days 273` against lifetimes' calibration_and_holdout_data: the total predicted
   and actual holdout purchase days.
5. Fits custseg and lifetimes on lifetimes' CDNOW 1/10 sample summary (2,357 customers, weeks)
   and prints both beside the published figures.

Exits 1 if a check fails. Prints the figures that src/value/cdnow_tests.rs hard-codes.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import lifetimes  # noqa: E402
from lifetimes import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter  # noqa: E402
from lifetimes.utils import summary_data_from_transaction_data  # noqa: E402

PUBLISHED = {
    "bg_nbd": {"r": 0.2426, "alpha": 4.4135, "a": 0.7929, "b": 2.4258},
    "pareto_nbd": {"r": 0.5534, "alpha": 10.5802, "s": 0.6061, "beta": 11.6562},
    "gamma_gamma": {"p": 6.25, "q": 3.74, "v": 15.45},
}
NAMES = {"bg_nbd": ["r", "alpha", "a", "b"], "pareto_nbd": ["r", "alpha", "s", "beta"], "gamma_gamma": ["p", "q", "v"]}
SAMPLE_FREQUENCIES = [0, 1, 2, 3, 5, 8, 13, 21, 34, 80]
FAILURES = []


def check(ok, message):
    print(("  ok    " if ok else "  FAIL  ") + message)
    if not ok:
        FAILURES.append(message)


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.abs(a - b) / np.maximum(np.abs(b), 1e-300)


def run_custseg(binary, *args):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    try:
        start = time.time()
        subprocess.run([binary, *args, out], check=True)
        elapsed = time.time() - start
        with open(out) as f:
            return json.load(f), elapsed
    finally:
        os.unlink(out)


def fit_lifetimes(summary, tight_pareto):
    f, r, T = summary["frequency"], summary["recency"], summary["T"]
    np.random.seed(0)
    start = time.time()
    bg = BetaGeoFitter(penalizer_coef=0.0).fit(f, r, T)
    bg_s = time.time() - start
    start = time.time()
    pn = ParetoNBDFitter(penalizer_coef=0.0).fit(f, r, T)
    pn_s = time.time() - start
    fits = {"bg_nbd": bg, "pareto_nbd": pn}
    if tight_pareto:
        scale = 1.0 / T.max()
        p = pn.params_
        init = [p["r"], p["alpha"] * scale, p["s"], p["beta"] * scale]
        fits["pareto_nbd_tight"] = ParetoNBDFitter(penalizer_coef=0.0).fit(
            f, r, T, initial_params=init, tol=1e-10, maxiter=20000
        )
    # lifetimes refuses m <= 0; custseg leaves those repeat buyers out of the spend fit too.
    repeat = summary[(summary["frequency"] > 0) & (summary.get("monetary_value", 1.0) > 0)]
    if "monetary_value" in summary:
        fits["gamma_gamma"] = GammaGammaFitter(penalizer_coef=0.0).fit(repeat["frequency"], repeat["monetary_value"])
    return fits, {"bg_nbd": bg_s, "pareto_nbd": pn_s}


def with_params(cls, params):
    m = cls()
    m.params_ = pd.Series(params)
    cond = getattr(m, "conditional_expected_number_of_purchases_up_to_time", None)
    if cond is not None:
        # customer_lifetime_value passes pandas Series, which ParetoNBDFitter's hyp2f1 rejects.
        m.predict = lambda t, f, r, T: np.ravel(cond(t, np.asarray(f), np.asarray(r), np.asarray(T)))
    return m


def ours_params(out, key):
    return {k: out[key]["params"][k] for k in NAMES[key]}


def compare_params(out, fits, label):
    print(f"\nParameters ({label}): custseg vs lifetimes, relative difference")
    for key in ["bg_nbd", "pareto_nbd", "gamma_gamma"]:
        if key not in fits:
            continue
        ours = ours_params(out, key)
        theirs = fits[key].params_
        for name in NAMES[key]:
            d = rel(ours[name], theirs[name])
            check(d < 0.01, f"{key:10s} {name:5s} custseg {ours[name]:12.6f}  lifetimes {theirs[name]:12.6f}  rel {d:.2e}")
    if "pareto_nbd_tight" in fits:
        ours = ours_params(out, "pareto_nbd")
        theirs = fits["pareto_nbd_tight"].params_
        print("  Pareto/NBD against lifetimes refitted with tol=1e-10:")
        for name in NAMES["pareto_nbd"]:
            d = rel(ours[name], theirs[name])
            check(d < 0.01, f"pareto_nbd {name:5s} custseg {ours[name]:12.6f}  lifetimes {theirs[name]:12.6f}  rel {d:.2e}")


def compare_customers(out, summary, fits, horizon):
    f, r, T = summary["frequency"].values, summary["recency"].values, summary["T"].values
    print(f"\nPer customer ({len(f)}): P(alive) and expected purchases over {horizon:g} days")
    for key, cls in [("bg_nbd", BetaGeoFitter), ("pareto_nbd", ParetoNBDFitter)]:
        ours = out[key]["predictions"]
        at_ours = with_params(cls, ours_params(out, key))
        own = fits[key + "_tight"] if key + "_tight" in fits else fits[key]
        for what, theirs_at_ours, theirs_own in [
            ("p_alive", at_ours.conditional_probability_alive(f, r, T), own.conditional_probability_alive(f, r, T)),
            (
                "expected",
                at_ours.conditional_expected_number_of_purchases_up_to_time(horizon, f, r, T),
                own.conditional_expected_number_of_purchases_up_to_time(horizon, f, r, T),
            ),
        ]:
            mine = np.asarray(ours[what])
            formula = rel(mine, np.ravel(theirs_at_ours)).max()
            check(formula < 1e-4, f"{key:10s} {what:9s} same parameters: max rel {formula:.2e}")
            end_to_end = rel(mine, np.ravel(theirs_own))
            label = "own fits" + (" (lifetimes tight)" if own is not fits[key] else "")
            line = f"{key:10s} {what:9s} {label}: max rel {end_to_end.max():.2e}, median {np.median(end_to_end):.2e}"
            if key == "bg_nbd":
                check(end_to_end.max() < 1e-4, line)
            else:
                print("  info  " + line)


def compare_clv(out, summary, fits):
    if "gamma_gamma" not in fits or "expected_spend" not in out["gamma_gamma"]:
        return
    f, r, T, m = (summary[c] for c in ["frequency", "recency", "T", "monetary_value"])
    rate = 1.1 ** (30 / 365) - 1
    gg = with_params(GammaGammaFitter, ours_params(out, "gamma_gamma"))
    spend = np.asarray(out["gamma_gamma"]["expected_spend"])
    check(rel(spend, gg.conditional_expected_average_profit(f, m).values).max() < 1e-10, "gamma_gamma expected spend per order, same parameters")
    print("\n360-day CLV at 10 %/year (lifetimes customer_lifetime_value, time=12, freq='D', same parameters)")
    for key, cls in [("bg_nbd", BetaGeoFitter), ("pareto_nbd", ParetoNBDFitter)]:
        model = with_params(cls, ours_params(out, key))
        theirs = gg.customer_lifetime_value(model, f, r, T, m, time=12, discount_rate=rate, freq="D").values
        ours = spend * np.asarray(out[key]["predictions"]["discounted_360"])
        d = rel(ours, theirs)
        check(d.max() < 1e-4, f"{key:10s} clv_360 max rel {d.max():.2e}; total custseg {ours.sum():.2f}, lifetimes {theirs.sum():.2f}")


def print_test_figures(out, summary, fits, horizon):
    print("\nFigures for src/value/cdnow_tests.rs (lifetimes fits, days):")
    for key in ["bg_nbd", "pareto_nbd", "pareto_nbd_tight", "gamma_gamma"]:
        if key in fits:
            p = fits[key].params_
            print(f"  {key:17s} " + ", ".join(f"{k} = {p[k]!r}" for k in p.index))
    f, r, T = (summary[c] for c in ["frequency", "recency", "T"])
    print("  customer: (x, t_x, T) -> bg p_alive, bg expected, pn p_alive, pn expected  [at lifetimes' params]")
    # The first customer (by id) of each of a spread of frequencies, and one who bought on the last day.
    ids = [summary.index[summary["frequency"] == x][0] for x in SAMPLE_FREQUENCIES if (summary["frequency"] == x).any()]
    last_day = summary.index[(summary["frequency"] > 0) & (summary["recency"] == summary["T"])]
    ids += list(last_day[:1])
    for cid in ids:
        row = summary.loc[cid]
        x, tx, t = row["frequency"], row["recency"], row["T"]
        vals = []
        for key in ["bg_nbd", "pareto_nbd_tight" if "pareto_nbd_tight" in fits else "pareto_nbd"]:
            m = fits[key]
            vals += [float(np.ravel(m.conditional_probability_alive(x, tx, t))[0]),
                     float(np.ravel(m.conditional_expected_number_of_purchases_up_to_time(horizon, x, tx, t))[0])]
        print(f"  {cid}: ({x:g}, {tx:g}, {t:g}) -> " + ", ".join(repr(v) for v in vals))


def published_sample(binary, lifetimes_dir):
    path = os.path.join(lifetimes_dir, "datasets", "cdnow_customers_summary_with_transactions.csv")
    out, _ = run_custseg(binary, "summary", path)
    df = pd.read_csv(path)
    summary = pd.DataFrame({"frequency": df["x"], "recency": df["t_x"], "T": df["T"], "monetary_value": df["zbar"]})
    fits, _ = fit_lifetimes(summary, tight_pareto=False)
    print("\nCDNOW 1/10 sample (lifetimes' cdnow_customers_summary_with_transactions.csv, 2,357 customers, weeks)")
    print(f"  {'model':10s} {'param':5s} {'published':>10s} {'custseg':>10s} {'lifetimes':>10s}")
    for key in ["bg_nbd", "pareto_nbd", "gamma_gamma"]:
        if "params" not in out[key]:
            print(f"  {key}: custseg error {out[key]}")
            continue
        for name in NAMES[key]:
            pub, ours, theirs = PUBLISHED[key][name], out[key]["params"][name], fits[key].params_[name]
            print(f"  {key:10s} {name:5s} {pub:10.4f} {ours:10.4f} {theirs:10.4f}   custseg vs published {rel(ours, pub):.1e}")


def cli_end_to_end(cli, cdnow, tx, summary, fits):
    print("\nEnd to end: custseg train on CDNOW_master (as of 1997-10-01, every line kept, 273-day horizon)")
    from lifetimes.utils import calibration_and_holdout_data
    f, r, T = (summary[c].values for c in ["frequency", "recency", "T"])
    with tempfile.TemporaryDirectory() as d:
        for key in ["bg_nbd", "pareto_nbd"]:
            base = [cli, "train", "--transactions", cdnow, "--k", "4", "--n-init", "1", "--keep-duplicates",
                    "--value-model", key, "--models-dir", os.path.join(d, key)]
            subprocess.run(base + ["--as-of", "1997-10-01", "--horizon-days", "273"], check=True,
                           stdout=subprocess.DEVNULL)
            v1 = os.path.join(d, key, "default", "v1")
            vm = json.load(open(os.path.join(v1, "model.json")))["value_model"]
            own = fits[key + "_tight"] if key + "_tight" in fits else fits[key]
            worst = max(rel(vm["params"][n], own.params_[n]) for n in NAMES[key])
            check(worst < 0.01, f"{key:10s} model.json value_model params vs lifetimes: max rel {worst:.2e}")
            a = pd.read_csv(os.path.join(v1, "assignments.csv"), dtype={"customer_id": str}).set_index("customer_id")
            a = a.loc[summary.index]
            for col, theirs in [
                ("p_alive", own.conditional_probability_alive(f, r, T)),
                ("expected_orders", own.conditional_expected_number_of_purchases_up_to_time(273, f, r, T)),
            ]:
                d_max = rel(a[col].values, np.ravel(theirs)).max()
                check(d_max < 1e-4, f"{key:10s} assignments.csv {col:15s} vs lifetimes (own fits): max rel {d_max:.2e}")
            subprocess.run([cli, "train", "--transactions", cdnow, "--k", "4", "--n-init", "1", "--keep-duplicates",
                            "--value-model", key, "--holdout-days", "273", "--models-dir", os.path.join(d, "h" + key)],
                           check=True, stdout=subprocess.DEVNULL)
            h = json.load(open(os.path.join(d, "h" + key, "default", "v1", "metrics.json")))["holdout"]
            cal = calibration_and_holdout_data(tx, "customer_id", "date", calibration_period_end="1997-09-30",
                                               observation_period_end="1998-06-30", freq="D")
            cls = BetaGeoFitter if key == "bg_nbd" else ParetoNBDFitter
            m = cls(penalizer_coef=0.0).fit(cal["frequency_cal"], cal["recency_cal"], cal["T_cal"])
            pred = np.ravel(m.conditional_expected_number_of_purchases_up_to_time(
                273, cal["frequency_cal"].values, cal["recency_cal"].values, cal["T_cal"].values)).sum()
            ours = h["summary"]["orders"]
            check(rel(ours["predicted_total"], pred) < 1e-3,
                  f"{key:10s} holdout predicted purchase days custseg {ours['predicted_total']:.2f}, lifetimes {pred:.2f}")
            check(ours["actual_total"] == cal["frequency_holdout"].sum(),
                  f"{key:10s} holdout actual purchase days custseg {ours['actual_total']:.0f}, "
                  f"lifetimes {cal['frequency_holdout'].sum():.0f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--custseg", required=True, help="the value_cdnow example binary")
    ap.add_argument("--cdnow", default="data/public/CDNOW_master.txt")
    ap.add_argument("--cli", help="the custseg binary, for the end-to-end checks")
    args = ap.parse_args()
    print(f"lifetimes {lifetimes.__version__}, numpy {np.__version__}, pandas {pd.__version__}")

    tx = pd.read_csv(args.cdnow, sep=r"\s+", dtype={"customer_id": str, "date": str})
    tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    summary = summary_data_from_transaction_data(
        tx, "customer_id", "date", monetary_value_col="dollar_value", observation_period_end="1997-09-30", freq="D"
    )
    summary.index = summary.index.astype(str)
    out, custseg_s = run_custseg(args.custseg, "cdnow", args.cdnow, "1997-09-30")
    ours = pd.DataFrame(out["customers"], columns=["id", "x", "t_x", "T", "m"]).set_index("id")
    summary = summary.loc[ours.index]
    print(f"\nCalibration summary of CDNOW_master to 1997-09-30: {len(summary)} customers, "
          f"{int((summary['frequency'] > 0).sum())} repeat buyers")
    same = all(np.allclose(ours[a].values, summary[b].values, rtol=1e-12, atol=1e-9)
               for a, b in [("x", "frequency"), ("t_x", "recency"), ("T", "T"), ("m", "monetary_value")])
    check(same, "custseg's fold equals summary_data_from_transaction_data (x, t_x, T, m for every customer)")

    fits, seconds = fit_lifetimes(summary, tight_pareto=True)
    compare_params(out, fits, "CDNOW_master calibration, days")
    compare_customers(out, summary, fits, out["horizon"])
    compare_clv(out, summary, fits)
    print("\nFit times on this summary: custseg (whole run, 3 models, incl. fold and output) "
          f"{custseg_s:.2f} s; custseg fits {json.dumps({k: round(v) for k, v in out['fit_ms'].items()})} ms; "
          f"lifetimes BG/NBD {seconds['bg_nbd']:.2f} s, Pareto/NBD {seconds['pareto_nbd']:.2f} s")
    for key in ["bg_nbd", "pareto_nbd", "gamma_gamma"]:
        print(f"  custseg {key} convergence: {out[key].get('convergence')}")
    print_test_figures(out, summary, fits, out["horizon"])
    if args.cli:
        cli_end_to_end(args.cli, args.cdnow, tx, summary, fits)
    published_sample(args.custseg, os.path.dirname(lifetimes.__file__))

    if FAILURES:
        print(f"\n{len(FAILURES)} check(s) failed")
        sys.exit(1)
    print("\nall checks passed")


if __name__ == "__main__":
    main()
