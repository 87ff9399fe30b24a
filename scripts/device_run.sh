#!/usr/bin/env bash
# One device-machine session: build against the machine's torch, run the
# suite, then the benchmark. Logs land in $OUT (or ./device_out).
# Usage: bash scripts/device_run.sh [pytest args...]; BENCH_ARGS selects shapes.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/device_out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
# The GPU image's default CXX (/opt/gcc/bin/g++) links libstdc++ statically
# into shared libraries; two libstdc++ copies in one process crashed in
# iostream formatting (2026-11-25). Build with the system compiler.
export CC=/usr/bin/gcc CXX=/usr/bin/g++ CUDAHOSTCXX=/usr/bin/g++
[ -d .cutlass ] && export CUTLASS_DIR=$PWD/.cutlass
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,memory.total --format=csv \
  | tee "$OUT/gpu.txt"
git rev-parse --short HEAD 2>/dev/null | tee "$OUT/commit.txt"

rm -rf build  # a warm machine keeps the CMake cache, compiler included
start=$(date +%s)
if ! python3 -m pip install --no-build-isolation --no-deps -v . >"$OUT/build.log" 2>&1; then
  tail -60 "$OUT/build.log"
  exit 1
fi
echo "build: $(( $(date +%s) - start )) s"

if [ "${SKIP_TESTS:-0}" != 1 ]; then
  python3 -m pytest tests -q -p no:cacheprovider -x "$@" 2>&1 | tee "$OUT/pytest.log" | tail -15
fi
if [ "${SKIP_BENCH:-0}" != 1 ]; then
  python3 -m gemm_int8.benchmark ${BENCH_ARGS:-} --out-dir "$OUT/bench" 2>&1 | tee "$OUT/bench.log" | tail -60
fi
