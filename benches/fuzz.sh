#!/usr/bin/env bash
# Coverage-guided fuzzing with cargo-fuzz (libFuzzer) of the JSON → customer → score path and
# of the training reader. Not part of the tests: run by hand, bounded in time.
#
#   benches/fuzz.sh [SECONDS_PER_TARGET]      (default 60)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). This machine has only a stable toolchain, so
# RUSTC_BOOTSTRAP=1 lets it accept the -Z flags cargo-fuzz passes. Crashes are saved under
# fuzz/artifacts/<target>/ and make the script fail.
set -euo pipefail
seconds="${1:-60}"
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz is not installed (cargo install cargo-fuzz)" >&2; exit 2; }
export RUSTC_BOOTSTRAP=1
# Seed corpora from the repository's own data.
mkdir -p fuzz/corpus/score_request fuzz/corpus/read_table
printf '%s' '{"customers":[{"customer_id":"c1","recency_days":12,"frequency":9,"monetary":1420.5,"gender":"F"},{"transactions":[{"date":"2025-03-02","amount":35.0,"order_id":"o1"}]}],"as_of":"2026-01-01"}' \
    >fuzz/corpus/score_request/seed.json
head -c 4000 data/sample/transactions.csv >fuzz/corpus/read_table/transactions.csv
head -c 4000 data/sample/customers.csv >fuzz/corpus/read_table/customers.csv
head -c 2000 data/public/CDNOW_master.txt >fuzz/corpus/read_table/cdnow.txt 2>/dev/null || true
for target in score_request read_table; do
    echo "== fuzzing $target for ${seconds}s"
    cargo fuzz run --fuzz-dir fuzz "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 2>&1 | tail -n 4
done
echo "OK: no crash in either target"
