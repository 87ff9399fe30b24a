// The rows of csrc/kernels/gemv/tile_configs.def as data: what the dispatch
// (GEMM and fused linear) needs to know about each.
#pragma once

#include <cstdint>

namespace gemm_int8::gemv {

enum Row : int {
#define GEMM_INT8_GEMV_CONFIG(name, max_m, rows, warps, groups) name,
#include "kernels/gemv/tile_configs.def"
#undef GEMM_INT8_GEMV_CONFIG
  kNumRows
};

struct RowShape {
  const char* name;
  int max_m, rows, warps, groups;
};

constexpr RowShape kRows[] = {
#define GEMM_INT8_GEMV_CONFIG(name, max_m, rows, warps, groups) {#name, max_m, rows, warps, groups},
#include "kernels/gemv/tile_configs.def"
#undef GEMM_INT8_GEMV_CONFIG
};

// Bytes of K one lane loads at a time (x rows and weight rows need K % 16 == 0
// and 16-byte aligned rows).
constexpr int kGranule = 16;
// The fused linear keeps x quantized in shared memory (m x k bytes) next to
// the partial sums; within the 48 KB a CTA gets without opting in.
constexpr int64_t kMaxFusedXBytes = 32 * 1024;

// The smallest row that takes m rows of x, or -1.
constexpr int row_for(int64_t m) {
  for (int r = 0; r < kNumRows; ++r)
    if (m >= 1 && m <= kRows[r].max_m) return r;
  return -1;
}

}  // namespace gemm_int8::gemv
