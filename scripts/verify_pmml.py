"""Scores customers with the PMML that `custseg export` writes, using pypmml, and compares
every assignment with `custseg score`. Run through scripts/verify_pmml.sh (venv, build)."""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from pypmml import Model

ROOT = Path(__file__).resolve().parent.parent
NEAR_TIE = 1e-9


def norm_id(v):
    """pypmml may return the predicted cluster id as a number ("0.0") in a DataFrame."""
    try:
        f = float(v)
        return str(int(f)) if f.is_integer() else str(v)
    except (TypeError, ValueError):
        return str(v)


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "CI": "1"})
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(map(str, cmd))}\n{r.stdout}{r.stderr}")
    return r.stdout


def version_dir(store, name):
    current = (Path(store) / name / "CURRENT").read_text().strip()
    return Path(store) / name / current


RFM_NAMES = ["Champions", "Loyal", "Potential Loyalist", "New", "Promising", "Need Attention",
             "About to Sleep", "At Risk", "Can't Lose Them", "Hibernating", "Lost"]
HOSTILE_LEVELS = {"F": 'F <&> "f"', "M": "M & 'm'", "Other": "<Other/>"}


def hostile_sample(work):
    """The bundled sample with XML-hostile category levels and segment names."""
    sample = ROOT / "data" / "sample"
    table = pd.read_csv(sample / "customers.csv", dtype=str, keep_default_na=False)
    table["gender"] = table["gender"].map(lambda g: HOSTILE_LEVELS.get(g, g))
    table.to_csv(work / "hostile-customers.csv", index=False)
    names = "".join(f""""{n}" = "{n} <&> \\"{i}\\" 'x'"\n""" for i, n in enumerate(RFM_NAMES))
    config = (sample / "demo.toml").read_text() + "\n[segments.names]\n" + names
    (work / "hostile.toml").write_text(config)
    return ["--transactions", sample / "transactions.csv", "--customers",
            work / "hostile-customers.csv", "--config", work / "hostile.toml"]


def datasets(shared, work):
    sample = ROOT / "data" / "sample"
    return [
        ("sample", ["--transactions", sample / "transactions.csv", "--customers",
                    sample / "customers.csv", "--config", sample / "demo.toml"]),
        ("mall", ["--customers", shared / "Mall_Customers.csv"]),
        ("cdnow", ["--transactions", shared / "CDNOW_master.txt"]),
        ("hostile", hostile_sample(work)),
    ]


def features(model_dir):
    spec = json.loads((model_dir / "model.json").read_text())["features"]["features"]
    return [(f["name"], f["encoding"]["kind"], f["encoding"].get("levels")) for f in spec]


def extra_customers(table, feats, rows=40):
    """Customers with one feature missing, an unknown category, or a blank-padded level."""
    out = [{"customer_id": "x-all-missing"}]
    for i, row in table.head(rows).iterrows():
        base = {name: row[name] for name, _, _ in feats}
        for name, kind, levels in feats:
            out.append({**base, name: "", "customer_id": f"x{i}-missing-{name}"})
            if kind == "categorical":
                out.append({**base, name: f"never seen {i}", "customer_id": f"x{i}-unknown-{name}"})
                out.append({**base, name: f"  {levels[i % len(levels)]} ",
                            "customer_id": f"x{i}-padded-{name}"})
    cols = ["customer_id"] + [n for n, _, _ in feats]
    return pd.DataFrame(out, columns=cols).fillna("")


def pmml_inputs(table, feats):
    """The model's inputs as pypmml takes them: numbers, strings, missing as NaN/None."""
    data = {}
    for name, kind, _ in feats:
        col = table[name].astype(str)
        if kind == "numeric":
            data[name] = pd.to_numeric(col.where(col != ""), errors="raise")
        else:
            data[name] = col.where(col != "", None).astype(object)
    return pd.DataFrame(data)


def check(label, custseg, model_dir, work):
    feats = features(model_dir)
    pmml = work / f"{label}.pmml"
    run([custseg, "export", "--model", model_dir, "--format", "pmml", "--output", pmml])
    training = pd.read_csv(model_dir / "assignments.csv", dtype=str, keep_default_na=False)
    extra = extra_customers(training, feats)
    extra_csv = work / f"{label}-extra.csv"
    extra.to_csv(extra_csv, index=False)

    result = {"dataset": label, "k": None, "columns": None}
    model = Model.load(str(pmml))
    failures = 0
    for part, table, source in [("training", training, model_dir / "assignments.csv"),
                                ("extra", extra, extra_csv)]:
        scored_csv = work / f"{label}-{part}-scored.csv"
        t0 = time.perf_counter()
        run([custseg, "score", "--model", model_dir, "--input", source, "--output", scored_csv])
        custseg_s = time.perf_counter() - t0
        ref = pd.read_csv(scored_csv, dtype={"customer_id": str, "segment_id": str},
                          keep_default_na=False)
        inputs = pmml_inputs(table, feats)
        t0 = time.perf_counter()
        got = model.predict(inputs)
        pmml_s = time.perf_counter() - t0
        assert len(ref) == len(table) == len(got), (len(ref), len(table), len(got))
        ref_ids = ref["segment_id"].tolist()
        got_ids = [norm_id(v) for v in got["segment_id"]]
        agree = sum(a == b for a, b in zip(ref_ids, got_ids))
        names_agree = sum(a == b for a, b in zip(ref["segment"], got["segment"]))
        near_ties, wrong = [], []
        for i, (a, b) in enumerate(zip(ref_ids, got_ids)):
            margin = float(ref["margin"].iloc[i])
            item = (table["customer_id"].iloc[i], a, b, margin)
            if a != b:
                (near_ties if margin <= NEAR_TIE else wrong).append(item)
            elif ref["segment"].iloc[i] != got["segment"].iloc[i]:
                wrong.append((item[0], ref["segment"].iloc[i], got["segment"].iloc[i], margin))
        dist_diff = max(abs(float(x) - float(y)) for x, y in zip(ref["distance"], got["distance"]))
        print(f"{label:7} {part:8} customers {len(table):6}  agree {agree:6}  "
              f"names agree {names_agree:6}  near-ties {len(near_ties)}  "
              f"disagree {len(wrong)}  max |distance diff| {dist_diff:.2e} (custseg rounds to 1e-6)  "
              f"custseg score {custseg_s:.2f} s  pypmml {pmml_s:.2f} s")
        for cid, a, b, margin in wrong[:20]:
            print(f"    DISAGREE {cid}: custseg {a}, pypmml {b} (margin {margin})")
        for cid, a, b, margin in near_ties[:20]:
            print(f"    near tie {cid}: custseg {a}, pypmml {b} (margin {margin})")
        failures += len(wrong)
        if part == "training":
            trained = sum(a == b for a, b in zip(training["segment_id"], got_ids))
            print(f"{'':7} {'':8} (pypmml vs the trainer's own assignments.csv labels: "
                  f"{trained} of {len(table)})")
    return failures


def timing(label, custseg, model_dir, work, rows):
    """Batch-scoring time of custseg and pypmml on the same rows (training rows repeated)."""
    feats = features(model_dir)
    base = pd.read_csv(model_dir / "assignments.csv", dtype=str, keep_default_na=False)
    reps = -(-rows // len(base))
    table = pd.concat([base] * reps, ignore_index=True).head(rows)
    table["customer_id"] = [f"t{i}" for i in range(len(table))]
    table = table[["customer_id"] + [n for n, _, _ in feats]]
    src = work / f"{label}-timing.csv"
    table.to_csv(src, index=False)
    t0 = time.perf_counter()
    run([custseg, "score", "--model", model_dir, "--input", src, "--output", work / "t.csv"])
    custseg_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = Model.load(str(work / f"{label}.pmml"))
    load_s = time.perf_counter() - t0
    inputs = pmml_inputs(table, feats)
    t0 = time.perf_counter()
    got = model.predict(inputs)
    pmml_s = time.perf_counter() - t0
    ref = pd.read_csv(work / "t.csv", dtype={"segment_id": str}, keep_default_na=False)
    agree = sum(a == norm_id(b) for a, b in zip(ref["segment_id"], got["segment_id"]))
    print(f"timing {label}: {len(table)} customers; custseg score (process, CSV in and out) "
          f"{custseg_s:.2f} s = {len(table) / custseg_s:,.0f}/s; pypmml predict(DataFrame) "
          f"{pmml_s:.2f} s = {len(table) / pmml_s:,.0f}/s (+ {load_s:.2f} s to load); "
          f"agree {agree}")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--custseg", required=True)
    p.add_argument("--shared", default=ROOT / "data" / "public", type=Path)
    p.add_argument("--model", action="append", default=[],
                   help="also check an existing model folder (models/NAME or models/NAME/vN)")
    p.add_argument("--workdir", type=Path)
    p.add_argument("--timing-rows", type=int, default=200000,
                   help="rows for the batch-scoring timing on CDNOW (0: skip)")
    a = p.parse_args()
    work = a.workdir or Path(tempfile.mkdtemp(prefix="custseg-pmml-"))
    work.mkdir(parents=True, exist_ok=True)
    store = work / "models"
    targets = []
    for name, args in datasets(a.shared, work):
        t0 = time.perf_counter()
        run([a.custseg, "train", "--name", name, "--models-dir", store, *args])
        print(f"trained {name} in {time.perf_counter() - t0:.1f} s")
        targets.append((name, version_dir(store, name)))
    for m in a.model:
        m = Path(m)
        d = m if (m / "model.json").is_file() else version_dir(m.parent, m.name)
        targets.append((f"{d.parent.name}-{d.name}", d))
    failures = 0
    for label, d in targets:
        failures += check(label, a.custseg, d, work)
    if a.timing_rows > 0:
        timing("cdnow", a.custseg, dict(targets)["cdnow"], work, a.timing_rows)
    print(f"work folder: {work}")
    if failures:
        print(f"FAILED: {failures} disagreements")
        sys.exit(1)
    print("OK: pypmml agrees with custseg on every customer")


if __name__ == "__main__":
    main()
