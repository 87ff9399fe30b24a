#!/usr/bin/env bash
# The closing device run of a round: build, full suite, benchmark against the
# committed baseline, the M = 1..257 cliff sweep and a Triton contender run on
# a few shapes. Keeps the files under $OUT few (the device tool returns a
# limited number).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/device_out}
BASELINE=${BASELINE:-docs/bench/h100-2026-11-25-r3.json}
export GEMM_INT8_TEST_SWEEP_SHAPES=${GEMM_INT8_TEST_SWEEP_SHAPES:-100}
BENCH_ARGS="--set seed,decode,large,ragged --no-progress --no-plot --compare $BASELINE" \
  OUT=$OUT timeout 420 bash scripts/device_run.sh 2>&1 | grep -E "passed|failed|build:|geomean"
rm -f "$OUT/build.log" "$OUT/bench.log"
OUT=$OUT SWEEPS=cliff timeout 90 bash scripts/device_tune.sh
mv "$OUT/tune/cliff/results.md" "$OUT/cliff.md" 2>/dev/null; rm -rf "$OUT/tune"
timeout -s INT "${COMPILE_S:-150}" python3 -m gemm_int8.benchmark --compile --no-progress --no-plot \
  --shapes "${COMPILE_SHAPES:-512x4096x4096,1000x1000x1000,4095x4097x4096}" \
  --out-dir "$OUT/compile" >/dev/null 2>"$OUT/compile.err"
echo "compile contender: exit $?"
rm -f "$OUT/compile/"*.png "$OUT/compile/results.json"
rm -f "$OUT/gpu.txt" "$OUT/commit.txt"
[ -s "$OUT/compile.err" ] || rm -f "$OUT/compile.err"
