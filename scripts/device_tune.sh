#!/usr/bin/env bash
# Tuning sweeps for the dispatch tables (docs/performance.md): the benchmark
# with one contender per forced kernel (--kernels) beside torch bf16, after
# the package is installed (scripts/device_run.sh) or its library carried
# (GEMM_INT8_LIBRARY). One results.json / results.md and one log per sweep in
# $OUT/tune. TIMING=graph (default) or events; REPS fixes the timed calls.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/device_out}
mkdir -p "$OUT/tune"
tune() {  # name shapes kernels
  python3 -m gemm_int8.benchmark --shapes "$2" --kernels "$3" --timing "${TIMING:-graph}" \
    ${REPS:+--reps "$REPS"} --no-plot --no-progress --out-dir "$OUT/tune/$1" \
    >"$OUT/tune/$1.log" 2>&1
  echo "tune $1: exit $?"
}
grid() {  # "m1 m2 ..." -> MxNxK list over the seed (N, K) pairs
  local out=""
  for nk in 4096x4096 14336x4096 4096x14336; do
    for m in $1; do out+="${m}x${nk},"; done
  done
  echo "${out%,}"
}
# Round 4 (docs/performance.md) set the current boundaries from: cliffrows,
# wide, small and ragged.
for sweep in ${SWEEPS:-cliff decode mid seed big}; do
  case $sweep in
    cliff) tune cliff "$(for m in $(seq 1 257); do printf '%sx4096x4096,' $m; done)" "auto" ;;
    cliffrows) tune cliffrows "$(for m in $(seq 1 3 300); do printf '%sx4096x4096,' $m; done)" \
      "auto,sm90:*" ;;
    wide) tune wide "$(grid "8 32 64 96 128 129 160 192 193 256 257 288 320 384" \
      | sed 's/[0-9]*x4096x4096,//g')" "auto,sm90:*" ;;
    small) tune small "1000x1000x1000,1000x1000x1024,300x1000x1000,512x1000x1000,\
2000x2000x1000,1000x4096x1000" "auto,sm80:*,sm90:*" ;;
    ragged) tune ragged "4095x4097x4096,4096x4096x4096,2047x14337x4095,2048x14336x4096,\
8192x8192x8192,4096x28672x8192,1024x4096x4096,1000x1001x1024,300x1001x4096,2048x4097x4096" \
      "auto,sm90_t128x256x128_c2x1_coop,sm90_t256x128x128_c2x1_coop,\
sm90_t256x128x128_c2x1_coop_rows,sm90_t64x256x128_c1x1_ping,sm90_t128x128x128_c1x1_coop" ;;
    edge) tune edge "$(grid "1 16 17 240 256 257 272 320 384 512")" "auto,skinny:*,sm90:*" ;;
    decode) tune decode "$(grid "1 2 4 8 12 16 17 24 32 33 40 48 64")" "auto,skinny:*,sm90:*" ;;
    mid) tune mid "$(grid "64 65 96 128 160 192 256")" "auto,sm90:*" ;;
    seed) tune seed "$(grid "384 512 768 1024 2048")" "auto,sm90:*" ;;
    big) tune big "8192x8192x8192,4096x28672x8192,4096x8192x28672,4096x4096x4096,4095x4097x4096,\
1000x1000x1000,3x11008x4096,2047x14337x4095,2048x14336x4096" "auto,sm90:*" ;;
  esac
done
