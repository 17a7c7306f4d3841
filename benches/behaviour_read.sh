#!/usr/bin/env bash
# Reading a log with behaviour fields vs the same log read for RFM alone (issue 15's bound:
# ≤ 1.3×). Writes a seeded UCI-shaped log of LINES lines (default 3,000,000) twice, once with
# the headers StockCode and Country (so custseg reads product and country and fits
# distinct_products and main_country) and once with those two headers renamed (read as other
# columns only, for duplicate detection), then runs `custseg train --k 4 --n-init 1` on each,
# alternating, RUNS times (default 3), and prints the medians of the whole process's wall
# time, of metrics.json's read and features timings, and of peak memory.
# Usage: benches/behaviour_read.sh [LINES] [RUNS]   (CUSTSEG_BIN=… to time another build)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
lines="${1:-3000000}"
runs="${2:-3}"
source benches/common.sh
bench_bin
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 benches/behaviour_read.py "$lines" "$work/with.csv"
sed '1s/StockCode/Sc/; 1s/Country/Ctry/' "$work/with.csv" >"$work/without.csv"
for i in $(seq "$runs"); do
    for kind in without with; do
        /usr/bin/time -f "%e %M" -o "$work/time" "$bin" train --transactions "$work/$kind.csv" \
            --k 4 --n-init 1 --models-dir "$work/models" --name "$kind" >"$work/out" 2>&1 ||
            { cat "$work/out"; exit 1; }
        v="$(ls -d "$work/models/$kind"/v* | sort -V | tail -1)"
        python3 - "$v/metrics.json" "$(cat "$work/time")" "$kind" >>"$work/runs" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["timings"]
wall, rss = sys.argv[2].split()
print(sys.argv[3], wall, t["read_s"], t["features_s"], int(rss) // 1024)
PY
    done
done
python3 - "$work/runs" "$lines" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = {k: [statistics.median(float(r[i]) for r in rows if r[0] == k) for i in (1, 2, 3, 4)]
       for k in ("without", "with")}
print(f"{int(sys.argv[2]):,} lines, medians of {len(rows) // 2} alternating runs")
print(f"{'':24} {'wall s':>8} {'read s':>8} {'features s':>10} {'peak MB':>8}")
for k, label in (("without", "RFM only"), ("with", "with product + country")):
    w, r, f, m = med[k]
    print(f"{label:24} {w:8.2f} {r:8.2f} {f:10.2f} {m:8.0f}")
w0, r0 = med["without"][0], med["without"][1]
w1, r1 = med["with"][0], med["with"][1]
print(f"ratio (with / RFM only): read {r1 / r0:.2f}x, whole train {w1 / w0:.2f}x")
PY
