// The gemv family: out = epilogue(x . w^T) for one or two rows of x, on CUDA
// cores, at the weight's read floor (rows and measurements:
// csrc/kernels/gemv/tile_configs.def).
//
// Two entry points share the kernel. The GEMM (x int8) reads x through L1.
// The fused linear (x float) first quantizes x per row into shared memory
// with the quantize kernels' rule and code (kernels/common/quantize_vectors.cuh),
// so its bits are those of quantize + scaled_mm. There is one CTA per SM, so
// that costs one read of x from L2 per SM (a few KB at decode) instead of a
// launch; it pays off where launches cost the host time (eager calls), not
// inside a CUDA graph (csrc/core/fused_linear_cuda.cpp).
//
// Launched dependent-style (kernels/common/pdl.cuh): while the previous
// kernel finishes, each CTA prefetches its first tile of the weight into L2.
#include <string>
#include <type_traits>

#include "core/gemv_rows.h"
#include "kernels/common/config_rows.h"
#include "kernels/common/out_types.cuh"
#include "kernels/common/pdl.cuh"
#include "kernels/common/quantize_vectors.cuh"
#include "kernels/common/streaming_load.cuh"
#include "kernels/gemv/launcher.h"

namespace gemm_int8::kernels {
namespace gemv {

using gemm_int8::gemv::kGranule;

template <class In, class Out>
struct Params {
  int m, n, k;
  const In* x;  // int8 (GEMM) or float (fused: quantized here)
  int64_t ld_x;
  const int8_t* w;
  int64_t ld_w;
  Out* out;
  int64_t out_row_stride, out_col_stride;
  EpilogueParams epilogue;  // fused: x_scale is filled in by the kernel
};

// Barrier 1 + group for the group's `threads` threads (0 is __syncthreads).
__device__ __forceinline__ void group_barrier(int group, int threads) {
  asm volatile("bar.sync %0, %1;" ::"r"(1 + group), "r"(threads) : "memory");
}

__device__ __forceinline__ int dot16(const uint4& a, const uint4& b, int c) {
  c = __dp4a(static_cast<int>(a.x), static_cast<int>(b.x), c);
  c = __dp4a(static_cast<int>(a.y), static_cast<int>(b.y), c);
  c = __dp4a(static_cast<int>(a.z), static_cast<int>(b.z), c);
  return __dp4a(static_cast<int>(a.w), static_cast<int>(b.w), c);
}

// Quantizes rows [0, m) of float x (K % 16 == 0, 16-byte rows) into x_q
// (pitch k) and scales[m]: the row maximum of |x| (the quantize kernels'
// NaN-sticky bit-pattern maximum), then the rounding. Thread t takes
// 16-byte vectors t, t + blockDim.x, ... of every row; all of them are
// loaded before any is used (one L2 round trip) and, when they fit in
// registers, kept for the rounding.
template <class In, int MaxM>
__device__ void quantize_rows(const In* x, int64_t ld_x, int m, int k, int8_t* x_q, float* scales,
                              uint32_t* row_bits) {
  constexpr int kElems = 16 / sizeof(In);
  constexpr int kKeep = 8;
  const int vecs = k / kElems;
  const int per_row = (vecs + blockDim.x - 1) / blockDim.x;
  const int items = m * per_row;
  // Item i is vector threadIdx.x + blockDim.x * (i % per_row) of row i / per_row.
  auto vec_of = [&](int i) { return threadIdx.x + blockDim.x * (i % per_row); };
  int4 v[kKeep];
  auto load = [&](int base) {
#pragma unroll
    for (int u = 0; u < kKeep; ++u) {
      const int i = base + u, r = i / per_row, c = vec_of(i);
      v[u] =
          i < items && c < vecs ? __ldg(reinterpret_cast<const int4*>(x + r * ld_x) + c) : int4{};
    }
  };
  if (threadIdx.x < MaxM) row_bits[threadIdx.x] = 0;
  uint32_t bits[MaxM] = {};
  for (int base = 0; base < items; base += kKeep) {
    load(base);
#pragma unroll
    for (int u = 0; u < kKeep; ++u) {
      const uint32_t b = abs_bits_max<In>(v[u]);  // zero for padding items
#pragma unroll
      for (int r = 0; r < MaxM; ++r)
        if (r == (base + u) / per_row) bits[r] = max(bits[r], b);
    }
  }
  __syncthreads();  // row_bits cleared
#pragma unroll
  for (int r = 0; r < MaxM; ++r) {
    const uint32_t b = warp_max(bits[r]);
    if (r < m && (threadIdx.x & 31) == 0) atomicMax(&row_bits[r], b);
  }
  __syncthreads();
  for (int base = 0; base < items; base += kKeep) {
    if (items > kKeep) load(base);
#pragma unroll
    for (int u = 0; u < kKeep; ++u) {
      const int i = base + u, r = i / per_row, c = vec_of(i);
      if (i >= items || c >= vecs) continue;
      const QuantParams qp = params_of_abs_max(row_bits[r]);
      if (threadIdx.x == 0 && i % per_row == 0) scales[r] = qp.scale;
      int8_t* dst = x_q + r * k + c * kElems;
      // The row's parameters pick the rounding once (as the quantize kernels).
      if (qp.inv_scale != 0.0f)
        quantize_vector<In, false, true>(v[u], qp, dst);
      else
        quantize_vector<In, false>(v[u], qp, dst);
    }
  }
  __syncthreads();
}

// One CTA per SM of Groups row groups of Warps warps: each group takes its
// own tile of Rows weight rows per step, its warps split K, and all groups
// share x (the fused kernel quantizes it once per SM).
template <int MaxM, int Rows, int Warps, int Groups, class In, class Out>
__global__ void __launch_bounds__(32 * Warps * Groups, 1) gemv_kernel(const Params<In, Out> p) {
  constexpr bool kFused = !std::is_same_v<In, int8_t>;
  constexpr int kSums = Rows * MaxM;                  // of one group
  extern __shared__ __align__(16) int8_t x_shared[];  // fused: MaxM x k int8
  __shared__ int partial[Groups * Warps][kSums];
  __shared__ float scales[MaxM];
  __shared__ uint32_t row_bits[MaxM];

  const int lane = threadIdx.x & 31, group = threadIdx.x / (32 * Warps);
  const int warp = (threadIdx.x >> 5) % Warps;  // within the group
  // More rows of x than MaxM (a forced row) take more CTAs along grid y.
  const int m0 = blockIdx.y * MaxM;
  const int rows_m = min(MaxM, p.m - m0);
  const int granules = p.k / kGranule;
  const int begin = granules * warp / Warps, end = granules * (warp + 1) / Warps;
  const int64_t tiles = (int64_t{p.n} + Rows - 1) / Rows;

  pdl_allow_next();
  const int64_t first_row = int64_t{blockIdx.x} * Groups * Rows + threadIdx.x;
  if (blockIdx.y == 0 && threadIdx.x < Groups * Rows && first_row < p.n)
    prefetch_l2(p.w + first_row * p.ld_w, static_cast<uint32_t>(p.k < 8192 ? p.k : 8192));
  pdl_wait();

  EpilogueParams epilogue = p.epilogue;
  const int8_t* x_q;
  int64_t ld_q;
  if constexpr (kFused) {
    quantize_rows<In, MaxM>(p.x, p.ld_x, p.m, p.k, x_shared, scales, row_bits);
    epilogue.x_scale = scales;
    epilogue.x_scale_step = 1;
    x_q = x_shared, ld_q = p.k;
  } else {
    x_q = p.x + m0 * p.ld_x, ld_q = p.ld_x;
  }

  // Group gid takes tiles gid, gid + groups, ... on its own (its own
  // barrier), so the rows spread over all groups of the GPU, not over CTAs.
  // A warp walks (tile, j) pairs, granule begin + lane + 32 j of each tile
  // row, loading the next pair's rows before it multiplies the current ones:
  // loads stay in flight across tile boundaries and their reductions.
  const int64_t stride = int64_t{gridDim.x} * Groups;
  const int steps = ((granules + Warps - 1) / Warps + 31) / 32;  // j < steps, same for all warps
  auto issue = [&](uint4(&w)[Rows], int64_t tile, int j) {
    const int g = begin + lane + 32 * j;
#pragma unroll
    for (int r = 0; r < Rows; ++r) {
      const int64_t row = tile * Rows + r;
      w[r] = tile < tiles && row < p.n && g < end
                 ? load_streaming(p.w + row * p.ld_w + g * kGranule)
                 : uint4{};
    }
  };
  int64_t tile = int64_t{blockIdx.x} * Groups + group;
  int j = 0;
  uint4 cur[Rows];
  issue(cur, tile, 0);
  int acc[Rows][MaxM] = {};
  while (tile < tiles) {
    int64_t next_tile = tile;
    int next_j = j + 1;
    if (next_j == steps) next_j = 0, next_tile += stride;
    uint4 next[Rows];
    issue(next, next_tile, next_j);
    const int g = begin + lane + 32 * j;
    if (g < end) {
#pragma unroll
      for (int m = 0; m < MaxM; ++m) {
        if (m >= rows_m) break;
        const int8_t* xp = x_q + m * ld_q + g * kGranule;
        uint4 xv;
        if constexpr (kFused)
          xv = *reinterpret_cast<const uint4*>(xp);
        else
          xv = __ldg(reinterpret_cast<const uint4*>(xp));
#pragma unroll
        for (int r = 0; r < Rows; ++r) acc[r][m] = dot16(cur[r], xv, acc[r][m]);
      }
    }
    if (next_j == 0) {  // the tile is done: integer sums, exact in any order
#pragma unroll
      for (int r = 0; r < Rows; ++r)
#pragma unroll
        for (int m = 0; m < MaxM; ++m) {
          int v = acc[r][m];
#pragma unroll
          for (int s = 16; s > 0; s >>= 1) v += __shfl_xor_sync(0xffffffffu, v, s);
          if (lane == 0) partial[group * Warps + warp][r * MaxM + m] = v;
          acc[r][m] = 0;
        }
      group_barrier(group, Warps * 32);
      const int e = threadIdx.x - group * Warps * 32;
      if (e < kSums) {
        const int r = e / MaxM, m = e % MaxM;
        const int64_t row_n = tile * Rows + r;
        int sum = 0;
#pragma unroll
        for (int w = 0; w < Warps; ++w) sum += partial[group * Warps + w][e];
        if (m < rows_m && row_n < p.n)
          p.out[(m0 + m) * p.out_row_stride + row_n * p.out_col_stride] =
              epilogue_out<Out>(epilogue, sum, m0 + m, row_n);
      }
      group_barrier(group, Warps * 32);  // partial is rewritten by the next tile
    }
#pragma unroll
    for (int r = 0; r < Rows; ++r) cur[r] = next[r];
    tile = next_tile, j = next_j;
  }
}

template <int MaxM, int Rows, int Warps, int Groups, class In, class Out>
Status launch(const Params<In, Out>& p, int sm_count, cudaStream_t stream) {
  constexpr bool kFused = !std::is_same_v<In, int8_t>;
  const int64_t ctas = (int64_t{p.n} + Rows * Groups - 1) / (Rows * Groups);
  const int64_t blocks_m = (int64_t{p.m} + MaxM - 1) / MaxM;
  if (blocks_m > 65535 || (kFused && blocks_m > 1))
    return Status::value_error("gemv: M = " + std::to_string(p.m) +
                               " is too large for this kernel");
  const dim3 grid(static_cast<unsigned>(ctas < sm_count ? ctas : sm_count),
                  static_cast<unsigned>(blocks_m));
  const size_t smem = kFused ? static_cast<size_t>(p.m) * p.k : 0;
  const cudaError_t err = pdl_launch(gemv_kernel<MaxM, Rows, Warps, Groups, In, Out>, grid,
                                     dim3(Groups * Warps * 32), smem, stream, p);
  if (err != cudaSuccess)
    return Status::cuda_error(std::string("gemv: launch failed: ") + cudaGetErrorString(err));
  return Status{};
}

template <int MaxM, int Rows, int Warps, int Groups>
Status launch_gemm(const DenseGemm& g, int64_t out_col_stride, cudaStream_t stream) {
  return with_out_type(g.out_dtype, [&](auto out_type) {
    using Out = decltype(out_type);
    const Params<int8_t, Out> p{g.m,       g.n,
                                g.k,       g.x,
                                g.ld_x,    g.y,
                                g.ld_y,    static_cast<Out*>(g.out),
                                g.ld_out,  out_col_stride,
                                g.epilogue};
    return launch<MaxM, Rows, Warps, Groups>(p, g.sm_count, stream);
  });
}

template <int MaxM, int Rows, int Warps, int Groups, class In>
Status launch_linear_as(const FusedLinearArgs& a, cudaStream_t stream) {
  const Params<In, In> p{a.m,      a.n, a.k,       static_cast<const In*>(a.x),
                         a.ld_x,   a.w, a.ld_w,    static_cast<In*>(a.out),
                         a.ld_out, 1,   a.epilogue};
  return launch<MaxM, Rows, Warps, Groups>(p, a.sm_count, stream);
}

template <int MaxM, int Rows, int Warps, int Groups>
Status launch_linear(const FusedLinearArgs& a, cudaStream_t stream) {
  return with_float_type(a.x_dtype, [&](auto in_type) {  // validate_linear checked the dtype
    return launch_linear_as<MaxM, Rows, Warps, Groups, decltype(in_type)>(a, stream);
  });
}

using GemmLauncher = Status (*)(const DenseGemm&, int64_t, cudaStream_t);
constexpr GemmLauncher kGemmLaunchers[] = {
#define GEMM_INT8_GEMV_CONFIG(name, max_m, rows, warps, groups) \
  &launch_gemm<max_m, rows, warps, groups>,
#include "kernels/gemv/tile_configs.def"
#undef GEMM_INT8_GEMV_CONFIG
};
using LinearLauncher = Status (*)(const FusedLinearArgs&, cudaStream_t);
constexpr LinearLauncher kLinearLaunchers[] = {
#define GEMM_INT8_GEMV_CONFIG(name, max_m, rows, warps, groups) \
  &launch_linear<max_m, rows, warps, groups>,
#include "kernels/gemv/tile_configs.def"
#undef GEMM_INT8_GEMV_CONFIG
};
static_assert(sizeof(kGemmLaunchers) / sizeof(kGemmLaunchers[0]) == gemm_int8::gemv::kNumRows);

}  // namespace gemv

Status launch_gemv(int row, const DenseGemm& gemm, int64_t out_col_stride, cudaStream_t stream) {
  return launch_config_row(gemv::kGemmLaunchers, "gemv", row, gemm, out_col_stride, stream);
}

Status launch_fused_linear(int row, const FusedLinearArgs& args, cudaStream_t stream) {
  return launch_config_row(gemv::kLinearLaunchers, "gemv (fused linear)", row, args, stream);
}

}  // namespace gemm_int8::kernels
