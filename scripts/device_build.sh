#!/usr/bin/env bash
# Builds the op library on the device machine (16 cores: about 70 s for 90a)
# into .carry/, where scripts/device_prebuilt.sh looks for it, and copies it
# to $OUT so a later run can carry it instead of rebuilding.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/device_out}
mkdir -p "$OUT" .carry
# The system compiler: the GPU image's default g++ links libstdc++ statically
# (scripts/device_run.sh says why that crashed).
export CC=/usr/bin/gcc CXX=/usr/bin/g++ CUDAHOSTCXX=/usr/bin/g++
start=$(date +%s)
cmake -S . -B .build-device -G Ninja -DGEMM_INT8_CUDA_ARCHS="${ARCHS:-90a}" \
  -DCUTLASS_DIR="$PWD/.cutlass" >"$OUT/cmake.log" 2>&1 || { tail -30 "$OUT/cmake.log"; exit 1; }
ninja -C .build-device gemm_int8_ops >"$OUT/ninja.log" 2>&1 || { grep -B2 -A20 error "$OUT/ninja.log" | head -80; exit 1; }
cp .build-device/libgemm_int8_ops.so .carry/
cp .build-device/libgemm_int8_ops.so "$OUT/"
rm -f "$OUT/cmake.log" "$OUT/ninja.log"
echo "device build: $(( $(date +%s) - start )) s"
