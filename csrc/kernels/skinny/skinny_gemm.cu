// The skinny family: out = epilogue(x . y^T) for small M, written for
// memory bandwidth. y (the N x K weight) is streamed once from DRAM with
// 16-byte loads that bypass L1; x (M x K, a few KB) comes from L1/L2.
//
// mma.sync.m16n8k32 s8 puts y rows in the 16-row A operand and x rows in
// the 8-column B operand (the swap-AB idea: N fills the wide dimension).
// A dot product does not care in which order K is summed, so A and B use the
// same permutation of each 64-byte K chunk: lane (g, t) loads bytes
// [16t, 16t + 16) of its rows, and those 16 bytes feed two mmas, bytes
// 16t+0..7 the first and 16t+8..15 the second. With that, every load of
// either operand is one contiguous, aligned 16-byte access.
//
// Launched dependent-style (kernels/common/pdl.cuh): while the kernel before
// it (in decode, the activation quantization) finishes, the CTAs of a grid
// that fits on the SMs at once prefetch their rows of y into L2, then wait
// for that kernel's output. Larger grids do not prefetch: there it cost
// 15-20 % (H200: 2 x 14336 x 4096 21.5 us with, 17.8 without; 1024 rows, 64
// CTAs: 3.8 with, 4.2 without; docs/performance.md).
#include <string>

#include "core/skinny_rows.h"
#include "kernels/common/config_rows.h"
#include "kernels/common/mma_s8.cuh"
#include "kernels/common/out_types.cuh"
#include "kernels/common/pdl.cuh"
#include "kernels/common/streaming_load.cuh"

namespace gemm_int8::kernels {
namespace skinny {

template <class Out>
struct Params {
  int m, n, k;
  const int8_t* x;
  int64_t ld_x;
  const int8_t* y;
  int64_t ld_y;
  Out* out;
  int64_t out_row_stride, out_col_stride;
  EpilogueParams epilogue;
  bool prefetch;  // bring each CTA's rows of y into L2 before waiting
};

constexpr int kChunkBytes = 64;  // K bytes per pair of m16n8k32 mmas

__device__ __forceinline__ uint4 load_cached(const int8_t* p) {
  return __ldg(reinterpret_cast<const uint4*>(p));
}

// RowTiles x 16 rows of y, ColTiles x 8 rows of x per CTA; Warps split K.
// Two CTAs per SM is the register budget that lets ptxas keep a warp's
// Unroll chunks of loads in flight: without a minimum it settled on 60
// registers and issued each chunk's loads next to its mmas (one chunk in
// flight, stalling on each).
template <int RowTiles, int ColTiles, int Warps, int Unroll, class Out>
__global__ void __launch_bounds__(Warps * 32, 2) skinny_kernel(const Params<Out> p) {
  static_assert(Warps > 1, "the epilogue reads the accumulators from shared memory");
  constexpr int kAcc = RowTiles * ColTiles * 4;
  static_assert(Warps * kAcc * 32 * 4 <= 48 * 1024, "partial sums exceed static shared memory");
  __shared__ int partial[Warps][kAcc][32];

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int64_t n0 = int64_t{blockIdx.x} * (16 * RowTiles);
  const int m0 = blockIdx.y * (8 * ColTiles);

  pdl_allow_next();
  if (p.prefetch && blockIdx.y == 0 && threadIdx.x < 16 * RowTiles && n0 + threadIdx.x < p.n) {
    const int8_t* row = p.y + (n0 + threadIdx.x) * p.ld_y;
    if (reinterpret_cast<uintptr_t>(row) % 16 == 0) prefetch_l2(row, static_cast<uint32_t>(p.k));
  }
  pdl_wait();

  // Rows past N or M read nothing and contribute zeros.
  const int8_t* y_row[RowTiles][2];
  bool y_ok[RowTiles][2];
#pragma unroll
  for (int r = 0; r < RowTiles; ++r)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int64_t row = n0 + 16 * r + 8 * h + g;
      y_ok[r][h] = row < p.n;
      y_row[r][h] = p.y + (y_ok[r][h] ? row : 0) * p.ld_y + 16 * t;
    }
  const int8_t* x_row[ColTiles];
  bool x_ok[ColTiles];
#pragma unroll
  for (int j = 0; j < ColTiles; ++j) {
    const int row = m0 + 8 * j + g;
    x_ok[j] = row < p.m;
    x_row[j] = p.x + (x_ok[j] ? row : 0) * p.ld_x + 16 * t;
  }

  int acc[RowTiles][ColTiles][4] = {};
  const int chunks = (p.k + kChunkBytes - 1) / kChunkBytes;
  const int begin = static_cast<int>(int64_t{chunks} * warp / Warps);
  const int end = static_cast<int>(int64_t{chunks} * (warp + 1) / Warps);
  for (int c = begin; c < end; c += Unroll) {
    uint4 a[Unroll][RowTiles][2];
    uint4 b[Unroll][ColTiles];
    // All loads of the step first, so Unroll chunks are in flight at once.
#pragma unroll
    for (int u = 0; u < Unroll; ++u) {
      const int chunk = (c + u) * kChunkBytes;                // the row pointers include 16 * t
      const bool k_ok = c + u < end && chunk + 16 * t < p.k;  // K % 16 == 0: whole granules
#pragma unroll
      for (int r = 0; r < RowTiles; ++r)
#pragma unroll
        for (int h = 0; h < 2; ++h)
          a[u][r][h] = k_ok && y_ok[r][h] ? load_streaming(y_row[r][h] + chunk) : uint4{};
#pragma unroll
      for (int j = 0; j < ColTiles; ++j)
        b[u][j] = k_ok && x_ok[j] ? load_cached(x_row[j] + chunk) : uint4{};
    }
#pragma unroll
    for (int u = 0; u < Unroll; ++u)
#pragma unroll
      for (int r = 0; r < RowTiles; ++r)
#pragma unroll
        for (int j = 0; j < ColTiles; ++j) {
          const uint4& lo = a[u][r][0];
          const uint4& hi = a[u][r][1];
          mma_s8(acc[r][j], lo.x, hi.x, lo.y, hi.y, b[u][j].x, b[u][j].y);
          mma_s8(acc[r][j], lo.z, hi.z, lo.w, hi.w, b[u][j].z, b[u][j].w);
        }
  }

#pragma unroll
  for (int r = 0; r < RowTiles; ++r)
#pragma unroll
    for (int j = 0; j < ColTiles; ++j)
#pragma unroll
      for (int q = 0; q < 4; ++q) partial[warp][(r * ColTiles + j) * 4 + q][lane] = acc[r][j][q];
  __syncthreads();
  // Thread i finishes accumulator elements i, i + 32 * Warps, ...: element e
  // of lane l is C fragment register q = e % 4 of tile (r, j) in lane l.
  for (int idx = threadIdx.x; idx < kAcc * 32; idx += Warps * 32) {
    const int e = idx / 32, l = idx % 32;
    int sum = 0;
#pragma unroll
    for (int w = 0; w < Warps; ++w) sum += partial[w][e][l];
    const int q = e % 4, j = (e / 4) % ColTiles, r = e / (4 * ColTiles);
    const int64_t row_n = n0 + 16 * r + (l >> 2) + (q >= 2 ? 8 : 0);
    const int row_m = m0 + 8 * j + 2 * (l & 3) + (q & 1);
    if (row_n < p.n && row_m < p.m)
      p.out[row_m * p.out_row_stride + row_n * p.out_col_stride] =
          epilogue_out<Out>(p.epilogue, sum, row_m, row_n);
  }
}

template <int RowTiles, int ColTiles, int Warps, int Unroll>
Status launch(const DenseGemm& g, int64_t out_col_stride, cudaStream_t stream) {
  const int64_t blocks_n = (int64_t{g.n} + 16 * RowTiles - 1) / (16 * RowTiles);
  const int64_t blocks_m = (int64_t{g.m} + 8 * ColTiles - 1) / (8 * ColTiles);
  if (blocks_m > 65535)
    return Status::value_error("skinny: M = " + std::to_string(g.m) +
                               " is too large for this kernel");
  const dim3 grid(static_cast<unsigned>(blocks_n), static_cast<unsigned>(blocks_m));
  return with_out_type(g.out_dtype, [&](auto out_type) {
    using Out = decltype(out_type);
    const bool one_wave = blocks_n * blocks_m <= int64_t{g.sm_count};
    const Params<Out> p{g.m,        g.n,
                        g.k,        g.x,
                        g.ld_x,     g.y,
                        g.ld_y,     static_cast<Out*>(g.out),
                        g.ld_out,   out_col_stride,
                        g.epilogue, one_wave};
    const cudaError_t err = pdl_launch(skinny_kernel<RowTiles, ColTiles, Warps, Unroll, Out>, grid,
                                       dim3(Warps * 32), 0, stream, p);
    if (err != cudaSuccess)
      return Status::cuda_error(std::string("skinny_gemm: launch failed: ") +
                                cudaGetErrorString(err));
    return Status{};
  });
}

using Launcher = Status (*)(const DenseGemm&, int64_t, cudaStream_t);
constexpr Launcher kLaunchers[] = {
#define GEMM_INT8_SKINNY_CONFIG(name, row_tiles, col_tiles, warps, unroll) \
  &launch<row_tiles, col_tiles, warps, unroll>,
#include "kernels/skinny/tile_configs.def"
#undef GEMM_INT8_SKINNY_CONFIG
};
static_assert(sizeof(kLaunchers) / sizeof(kLaunchers[0]) == gemm_int8::skinny::kNumRows);

}  // namespace skinny

Status launch_skinny(int row, const DenseGemm& gemm, int64_t out_col_stride, cudaStream_t stream) {
  return launch_config_row(skinny::kLaunchers, "skinny", row, gemm, out_col_stride, stream);
}

}  // namespace gemm_int8::kernels
