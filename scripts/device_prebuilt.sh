#!/usr/bin/env bash
# A device run that spends no device time compiling: the op library is built
# on the CPU machine (same torch 2.11.0+cu130 as the GPU image; 90a only) and
# carried, e.g.
#   cmake -S . -B .build90a -G Ninja -DGEMM_INT8_CUDA_ARCHS=90a && ninja -C .build90a gemm_int8_ops
#   mkdir -p .carry && cp .build90a/libgemm_int8_ops.so .carry/
# then the device tool runs `bash scripts/device_prebuilt.sh tests|bench|quant`
# with carry [".carry"] (and ".base" for a baseline: an older checkout's
# python/ folder and library, for --compare in the same run).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/device_out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD/python GEMM_INT8_LIBRARY=$PWD/.carry/libgemm_int8_ops.so
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
git rev-parse --short HEAD 2>/dev/null
SETS=${SETS:-seed,decode,large,ragged}

case "${1:-tests}" in
  tests)
    export GEMM_INT8_TEST_SWEEP_SHAPES=${GEMM_INT8_TEST_SWEEP_SHAPES:-60}
    timeout "${TEST_S:-420}" python3 -m pytest tests -q -p no:cacheprovider -x \
      --ignore=tests/test_benchmark.py --ignore=tests/test_minilm.py "${@:2}" 2>&1 |
      tail -40 | tee "$OUT/pytest.log"
    ;;
  bench)
    python3 -m gemm_int8.benchmark --epilogue --set "$SETS" --no-progress --no-plot \
      --out-dir "$OUT/new" 2>&1 | tail -80 > "$OUT/new.log"
    if [ -d .base ]; then
      GEMM_INT8_LIBRARY=$PWD/.base/libgemm_int8_ops.so PYTHONPATH=$PWD/.base/python \
        python3 -m gemm_int8.benchmark --set "$SETS" --no-progress --no-plot \
        --out-dir "$OUT/base" >/dev/null 2>&1
      python3 -m gemm_int8.benchmark --compare "$OUT/base/results.json" "$OUT/new/results.json" \
        2>&1 | tee "$OUT/compare.txt" | tail -60
    fi
    rm -f "$OUT"/*/*.csv "$OUT"/*/*.png
    ;;
  quant)
    python3 -m gemm_int8.benchmark.quantize_bandwidth 2>&1 | tee "$OUT/quant.txt"
    ;;
esac
