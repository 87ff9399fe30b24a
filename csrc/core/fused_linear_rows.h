// The rows of csrc/kernels/fused_linear/tile_configs.def as data, and the
// shared-memory layout the kernel and the dispatch (which must know whether
// a problem fits) agree on.
#pragma once

#include <cstdint>

namespace gemm_int8::fused_linear {

enum Row : int {
#define GEMM_INT8_FUSED_LINEAR_CONFIG(name, col_tiles, consumers, slab_bytes, stages) name,
#include "kernels/fused_linear/tile_configs.def"
#undef GEMM_INT8_FUSED_LINEAR_CONFIG
  kNumRows
};

struct RowShape {
  const char* name;
  int col_tiles, consumers, slab_bytes, stages;
};

constexpr RowShape kRows[] = {
#define GEMM_INT8_FUSED_LINEAR_CONFIG(name, col_tiles, consumers, slab_bytes, stages) \
  {#name, col_tiles, consumers, slab_bytes, stages},
#include "kernels/fused_linear/tile_configs.def"
#undef GEMM_INT8_FUSED_LINEAR_CONFIG
};

constexpr int kTileRows = 16;  // weight rows per tile: the mma's A rows
constexpr int kMaxXRows = 16;  // x rows one CTA quantizes (8 * col_tiles <= 16)
// Rows of the ring and of x are padded so that the 16-byte fragment reads of
// eight rows fall on distinct banks.
constexpr int kRowPad = 64;
constexpr int64_t kMaxSharedBytes = 227 * 1024;  // sm_90 opt-in maximum per CTA

constexpr int64_t x_pitch(int64_t k) { return (k + 127) / 128 * 128 + kRowPad; }

// Dynamic shared memory, in this order: the weight ring, x as int8, then the
// per-row scales, quantization parameters and |x| maxima, the partial sums
// and the barriers (every part a multiple of 16 bytes).
struct SharedLayout {
  int64_t ring, x, scales, params, stats, partial, barriers, total;
};

constexpr SharedLayout shared_layout(const RowShape& r, int64_t x_rows, int64_t k) {
  SharedLayout l{};
  l.ring = 0;
  l.x = l.ring + int64_t{r.stages} * kTileRows * (r.slab_bytes + kRowPad);
  l.scales = l.x + x_rows * x_pitch(k);
  l.params = l.scales + kMaxXRows * 4;
  l.stats = l.params + kMaxXRows * 16;
  l.partial = l.stats + kMaxXRows * 4;
  l.barriers = l.partial + int64_t{r.consumers} * r.col_tiles * 4 * 32 * 4;
  l.total = l.barriers + 2 * int64_t{r.stages} * 8;
  return l;
}

}  // namespace gemm_int8::fused_linear
