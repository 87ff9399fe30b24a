#!/usr/bin/env bash
# Nsight Compute over forced kernels (after scripts/device_run.sh installed
# the package): one CSV row per kernel with time, DRAM traffic and occupancy.
# Usage: bash scripts/device_ncu.sh <shapes> <kernels, as the benchmark's --kernels>
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/device_out}
mkdir -p "$OUT"
metrics=gpu__time_duration.sum,dram__bytes_read.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed
metrics+=,launch__grid_size,launch__block_size,launch__registers_per_thread
metrics+=,sm__warps_active.avg.pct_of_peak_sustained_active,sm__throughput.avg.pct_of_peak_sustained_elapsed
ncu --clock-control none --cache-control all --csv --metrics "$metrics" \
  -k "regex:skinny|device_kernel|reduce|elementwise|gemm|Kernel|copy" \
  python3 -m gemm_int8.benchmark --once --shapes "$1" --kernels "$2" \
  >"$OUT/ncu.csv" 2>"$OUT/ncu.err"
echo "ncu: exit $?"
