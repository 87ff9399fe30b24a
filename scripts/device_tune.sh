#!/usr/bin/env bash
# Tuning sweeps for the dispatch tables (docs/performance.md): after
# scripts/device_run.sh has installed the package on the device machine.
# Writes one JSON and one log per sweep to $OUT/tune.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/device_out}
mkdir -p "$OUT/tune"
tune() {  # name shapes candidates
  python3 -m gemm_int8.benchmark.tune --shapes "$2" --candidates "$3" --reps "${REPS:-40}" \
    --json "$OUT/tune/$1.json" >"$OUT/tune/$1.log" 2>&1
  echo "tune $1: exit $?"
}
grid() {  # "m1 m2 ..." -> MxNxK list over the seed (N, K) pairs
  local out=""
  for nk in 4096x4096 14336x4096 4096x14336; do
    for m in $1; do out+="${m}x${nk},"; done
  done
  echo "${out%,}"
}
for sweep in ${SWEEPS:-cliff calib decode mid seed big}; do
  case $sweep in
    cliff) tune cliff "$(for m in $(seq 1 257); do printf '%sx4096x4096,' $m; done)" "auto,bf16" ;;
    edge) tune edge "$(grid "1 16 17 240 256 257 272 320 384 512")" "auto,bf16,skinny:*,sm90:*" ;;
    calib) tune calib "1x4096x4096,1x14336x4096,1x4096x14336,64x4096x4096,256x4096x4096" \
      "calib:empty,calib:read,calib:copy,bf16,auto,skinny:*,sm90:*" ;;
    decode) tune decode "$(grid "1 2 4 8 12 16 17 24 32 33 40 48 64")" "auto,bf16,skinny:*,sm90:*" ;;
    mid) tune mid "$(grid "64 65 96 128 160 192 256")" "auto,bf16,sm90:*" ;;
    seed) tune seed "$(grid "384 512 768 1024 2048")" "auto,bf16,sm90:*" ;;
    cliffrows) tune cliffrows "$(for m in $(seq 1 260); do printf '%sx4096x4096,' $m; done)" \
      "auto,bf16,sm90_swap_t64x16x256_c1x1_ping,sm90_swap_t128x16x256_c1x1_coop,\
sm90_swap_t64x32x256_c1x1_ping,sm90_swap_t128x32x256_c1x1_coop,sm90_swap_t64x64x256_c1x1_ping,\
sm90_t64x128x128_c1x1_ping,sm90_t64x256x128_c1x1_ping" ;;
    wide) tune wide "$(grid "64 96 128 129 160 192 193 256 257" | sed 's/[0-9]*x4096x4096,//g')" \
      "auto,bf16,sm90:*" ;;
    cpasync) tune cpasync "1000x1000x1000,300x1000x1000,2000x2000x1000,3000x3000x3000,\
4096x4096x4104,2048x14336x4104,1x4096x4104,128x4096x4104" "auto,bf16,sm90:*" ;;
    ragged) tune ragged "4095x4097x4096,4096x4096x4096,2047x14337x4095,2048x14336x4096,\
8192x8192x8192,4096x28672x8192,1024x4096x4096" "auto,bf16,sm90_t128x256x128_c2x1_coop,\
sm90_t256x128x128_c2x1_coop,sm90_t64x256x128_c1x1_ping,sm90_t128x128x128_c1x1_coop" ;;
    cliff2) tune cliff2 "$(for m in $(seq 96 300); do printf '%sx4096x4096,' $m; done)" \
      "auto,bf16,sm90_swap_t64x64x256_c1x1_ping,sm90_swap_t128x32x256_c1x1_coop,\
sm90_swap_t128x64x256_c1x1_coop,sm90_swap_t128x80x256_c1x1_coop,sm90_t64x128x128_c1x1_ping,\
sm90_t64x256x128_c1x1_ping,sm90_t128x128x128_c1x1_coop" ;;
    wide2) tune wide2 "$(grid "96 128 129 144 160 192 193 224 256 257 288 320" \
      | sed 's/[0-9]*x4096x4096,//g')" "auto,bf16,sm90:*" ;;
    small) tune small "1000x1000x1000,1000x1000x1024,300x1000x1000,512x1000x1000,1500x1500x1000,\
2000x2000x1000,1000x4096x1000" "auto,bf16,calib:empty,sm80_a8_t64x128x64_w32x64x64_s4,\
sm80_t64x128x64_w32x64x64_s4,sm90_cpasync_t64x128x128_c1x1_ping,sm90_t64x128x128_c1x1_ping,\
sm90_t128x128x128_c1x1_coop,sm90_t128x256x128_c2x1_coop,sm90_swap_t128x64x256_c1x1_coop" ;;
    cliffauto) tune cliffauto "$(for m in $(seq 1 300); do printf '%sx4096x4096,' $m; done)" \
      "auto,bf16" ;;
    m257) tune m257 "$(for m in $(seq 248 400); do printf '%sx4096x4096,' $m; done)" \
      "auto,bf16,sm90_swap_t128x96x256_c1x1_coop,sm90_swap_t128x96x128_c1x1_coop,\
sm90_swap_t128x64x256_c1x1_coop,sm90_t64x128x128_c1x1_ping,sm90_t64x256x128_c1x1_ping,\
sm90_t128x128x128_c1x1_coop" ;;
    wide3) tune wide3 "$(grid "257 288 320 384" | sed 's/[0-9]*x4096x4096,//g')" "auto,bf16,sm90:*" ;;
    small2) tune small2 "1000x1000x1000,300x1000x1000,512x1000x1000,1000x4096x1000" \
      "auto,bf16,sm80:*,sm90_cpasync_t64x128x128_c1x1_ping" ;;
    k128) tune k128 "$(for m in $(seq 1 3 300); do printf '%sx4096x4096,' $m; done)" \
      "auto,bf16,sm90:*" ;;
    k128wide) tune k128wide "$(grid "8 32 64 96 128 160 192 256" | sed 's/[0-9]*x4096x4096,//g')" \
      "auto,bf16,sm90:*" ;;
    m129) tune m129 "$(for m in $(seq 96 200); do printf '%sx4096x4096,' $m; done)" \
      "auto,bf16,sm90_swap_t128x48x128_c1x1_coop,sm90_swap_t128x64x128_c1x1_coop,\
sm90_swap_t64x64x256_c1x1_ping,sm90_swap_t128x32x128_c1x1_coop" ;;
    m129wide) tune m129wide "$(grid "129 144 160 176 192" | sed 's/[0-9]*x4096x4096,//g')" \
      "auto,sm90_swap_t128x48x128_c1x1_coop,sm90_swap_t128x64x128_c1x1_coop,sm90_t64x128x128_c1x1_ping" ;;
    big) tune big "8192x8192x8192,4096x28672x8192,4096x8192x28672,4096x4096x4096,4095x4097x4096,\
1000x1000x1000,3x11008x4096,2047x14337x4095,2048x14336x4096" "auto,bf16,sm90:*" ;;
  esac
done
