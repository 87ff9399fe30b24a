#!/usr/bin/env bash
# Decode-shape sweep in graph timing: the dispatch's choice against every
# skinny row forced (GEMM_INT8_FORCE_KERNEL), one JSON per kernel in $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/device_out}
mkdir -p "$OUT/decode"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD/python GEMM_INT8_LIBRARY=$PWD/.carry/libgemm_int8_ops.so
SHAPES=${SHAPES:-1x4096x4096,8x4096x4096,16x4096x4096,1x1024x4096,16x1024x4096,1x14336x4096,16x14336x4096,1x4096x14336,16x4096x14336}
KERNELS=${KERNELS:-auto $(python3 -c "import gemm_int8, torch; print(' '.join(n for n in torch.ops.gemm_int8.kernel_configs() if n.startswith('skinny')))")}
for k in $KERNELS; do
  contenders=gemm_int8
  [ "$k" = auto ] && contenders=gemm_int8,torch_bf16
  GEMM_INT8_FORCE_KERNEL=$k python3 -m gemm_int8.benchmark --shapes "$SHAPES" --timing graph \
    --contenders "$contenders" --no-progress --no-plot --out-dir "$OUT/decode/$k" >/dev/null 2>&1
  python3 - "$OUT/decode/$k/results.json" "$k" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["results"]
cells = []
for r in rows:
    for name, c in r["contenders"].items():
        if c.get("status") == "ok":
            cells.append(f"{r['shape']} {name} {c['median_us']:.2f}us ({c['time_over_mem_floor']:.2f}x floor)")
        else:
            cells.append(f"{r['shape']} {name} {c.get('status')}: {c.get('detail', '')[:60]}")
print(sys.argv[2] + ":\n  " + "\n  ".join(cells))
PY
done
rm -f "$OUT"/decode/*/*.csv "$OUT"/decode/*/*.png
