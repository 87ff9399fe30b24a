// The fused linear kernel (Hopper): out = x_scale[m] * w_scale[n] *
// (quantize(x) . w^T)[m, n] + bias[n] for a few rows of float x, in one
// launch. In decode the separate per-token quantize kernel costs about as
// much as a small GEMM; here each CTA quantizes the x rows itself into
// shared memory (the rule and the code of the quantize kernels, so the bits
// are those of quantize + scaled_mm) while its first weight slabs arrive.
//
// The weight streams from HBM once. One persistent CTA per SM takes every
// gridDim.x-th 16-row tile (neighbouring CTAs read neighbouring tiles, which
// measured faster than contiguous runs per CTA). A producer warp copies K
// slabs of its tiles into a ring of shared-memory stages with cp.async.bulk,
// tracked by transaction-counting mbarriers, so `Stages` slabs are in flight
// across tile boundaries without costing registers. The consumer warps split
// each slab's 64-byte chunks and run mma.sync m16n8k32 (weight rows in A, x
// rows in B, one permutation of each chunk for both, as the skinny kernel);
// at the end of a tile they sum through shared memory (integers: exact and
// deterministic) and apply the epilogue.
//
// Every consumer thread releases a stage itself after a proxy fence: its
// reads (generic proxy) are then ordered before the next bulk copy (async
// proxy) into the same bytes. Releasing once per warp after __syncwarp gave
// wrong sums on the H200 in 10 of 10 runs of one configuration (a 3-stage
// ring, twice as many CTAs as SMs).
#pragma once

#include <cstdint>

#include "core/fused_linear_rows.h"
#include "kernels/common/mma_s8.cuh"
#include "kernels/common/out_types.cuh"
#include "kernels/common/pdl.cuh"
#include "kernels/common/quantize_vectors.cuh"
#include "kernels/common/smem_pipeline.cuh"

namespace gemm_int8::kernels::fused_linear {

using gemm_int8::fused_linear::kTileRows;
using gemm_int8::fused_linear::RowShape;
using gemm_int8::fused_linear::SharedLayout;

template <class In, class Out>
struct Params {
  int m, n, k;
  const In* x;
  int64_t ld_x;
  const int8_t* w;
  int64_t ld_w;
  Out* out;
  int64_t ld_out;
  EpilogueParams epilogue;  // x_scale is filled in by the kernel
  SharedLayout smem;
};

constexpr int kChunkBytes = 64;  // K bytes per pair of m16n8k32 mmas

// Consumer warps quantize rows [0, rows) of x into x_q (pitch `pitch`) and
// their scales. Warp w takes the w-th share of every row's 16-byte vectors;
// a lane's vectors of all rows form one list of items, loaded kBatch at a
// time before any is used (the loads are L2 round trips: a row-by-row loop
// costs one per row), and kept for the second pass when they all fit.
// Row maxima of |x| meet in shared memory as bit patterns (NaN above inf,
// the quantize kernels' NaN-sticky maximum).
template <class In, int Consumers>
__device__ void quantize_rows(const In* x, int64_t ld_x, int rows, int k, int8_t* x_q,
                              int64_t pitch, float* scales, QuantParams* params,
                              uint32_t* row_bits) {
  constexpr int kElems = 16 / sizeof(In);
  constexpr int kBatch = 16;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int vecs = k / kElems;
  const int begin = vecs * warp / Consumers, end = vecs * (warp + 1) / Consumers;
  const int per_row = (end - begin + 31) / 32;  // a lane's vectors per row
  const int items = rows * per_row;
  int4 v[kBatch];
  // Item i is vector begin + lane + 32 * (i % per_row) of row i / per_row.
  auto load = [&](int base) {
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      const int i = base + u, r = per_row ? i / per_row : 0;
      const int c = begin + lane + 32 * (i - r * per_row);
      v[u] = i < items && c < end ? __ldg(reinterpret_cast<const int4*>(x + r * ld_x) + c) : int4{};
    }
  };
  if (threadIdx.x < rows) row_bits[threadIdx.x] = 0;
  named_barrier_sync(1, Consumers * 32);
  for (int base = 0; base < items; base += kBatch) {
    load(base);
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      if (base + u >= items) break;
      const uint32_t bits = warp_max(abs_bits_max<In>(v[u]));
      if (lane == 0) atomicMax(&row_bits[(base + u) / per_row], bits);
    }
  }
  named_barrier_sync(1, Consumers * 32);
  if (threadIdx.x < rows) {
    params[threadIdx.x] = params_of_abs_max(row_bits[threadIdx.x]);
    scales[threadIdx.x] = params[threadIdx.x].scale;
  }
  named_barrier_sync(1, Consumers * 32);
  for (int base = 0; base < items; base += kBatch) {
    if (items > kBatch) load(base);
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      const int i = base + u, r = i / per_row;
      if (i >= items) break;
      const int c = begin + lane + 32 * (i - r * per_row);
      if (c >= end) continue;
      const QuantParams qp = params[r];
      int8_t* dst = x_q + r * pitch + c * kElems;
      // The row's parameters pick the rounding once (as the quantize kernels).
      if (qp.inv_scale != 0.0f)
        quantize_vector<In, false, true>(v[u], qp, dst);
      else
        quantize_vector<In, false>(v[u], qp, dst);
    }
  }
  named_barrier_sync(1, Consumers * 32);
}

template <int ColTiles, int Consumers, int SlabBytes, int Stages, class In, class Out>
__global__ void __launch_bounds__((Consumers + 1) * 32, 1)
    fused_linear_kernel(const Params<In, Out> p) {
  static_assert(SlabBytes % (kChunkBytes * Consumers) == 0, "consumers split a slab evenly");
  constexpr int kPitch = SlabBytes + gemm_int8::fused_linear::kRowPad;
  constexpr int kChunksPerWarp = SlabBytes / kChunkBytes / Consumers;
  constexpr int kAcc = ColTiles * 4;
  extern __shared__ __align__(128) int8_t smem[];
  int8_t* ring = smem + p.smem.ring;
  int8_t* x_q = smem + p.smem.x;
  float* scales = reinterpret_cast<float*>(smem + p.smem.scales);
  int* partial = reinterpret_cast<int*>(smem + p.smem.partial);
  uint64_t* full = reinterpret_cast<uint64_t*>(smem + p.smem.barriers);
  uint64_t* empty = full + Stages;

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t tiles = (int64_t{p.n} + kTileRows - 1) / kTileRows;
  const int slabs = (p.k + SlabBytes - 1) / SlabBytes;

  if (threadIdx.x == 0) {
    for (int s = 0; s < Stages; ++s) {
      mbarrier_init(&full[s], 1);
      mbarrier_init(&empty[s], Consumers * 32);
    }
    mbarrier_init_fence();
  }
  __syncthreads();
  pdl_allow_next();

  if (warp == Consumers) {
    // Producer. Before pdl_wait only L2 prefetches (pdl.cuh's contract).
    const int64_t first_row = int64_t{blockIdx.x} * kTileRows + lane;
    if (lane < kTileRows && first_row < p.n)
      prefetch_l2(p.w + first_row * p.ld_w, static_cast<uint32_t>(min(p.k, 2 * SlabBytes)));
    pdl_wait();
    int stage = 0;
    uint32_t round = 0;
    for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
      const int64_t n0 = tile * kTileRows;
      const int rows = static_cast<int>(min(int64_t{kTileRows}, p.n - n0));
      for (int slab = 0; slab < slabs; ++slab) {
        const int k0 = slab * SlabBytes;
        const uint32_t bytes = static_cast<uint32_t>(min(SlabBytes, p.k - k0));
        mbarrier_wait(&empty[stage], round ^ 1);
        if (lane == 0) mbarrier_arrive_expect_tx(&full[stage], bytes * rows);
        __syncwarp();
        if (lane < rows)
          bulk_copy_to_shared(ring + (stage * kTileRows + lane) * kPitch,
                              p.w + (n0 + lane) * p.ld_w + k0, bytes, &full[stage]);
        if (++stage == Stages) stage = 0, round ^= 1;
      }
    }
    return;
  }

  // Consumers: quantize x (the producer's first slabs arrive meanwhile).
  pdl_wait();
  const int64_t x_pitch = gemm_int8::fused_linear::x_pitch(p.k);
  quantize_rows<In, Consumers>(p.x, p.ld_x, p.m, p.k, x_q, x_pitch, scales,
                               reinterpret_cast<QuantParams*>(smem + p.smem.params),
                               reinterpret_cast<uint32_t*>(smem + p.smem.stats));
  EpilogueParams epilogue = p.epilogue;
  epilogue.x_scale = scales;
  epilogue.x_scale_step = 1;

  // Lane (g, t) reads bytes [16t, 16t + 16) of each 64-byte chunk.
  const int g = lane >> 2, t = lane & 3;
  const int8_t* x_row[ColTiles];
  bool x_ok[ColTiles];
#pragma unroll
  for (int j = 0; j < ColTiles; ++j) {
    x_ok[j] = 8 * j + g < p.m;
    x_row[j] = x_q + (8 * j + g) * x_pitch;
  }

  int stage = 0;
  uint32_t round = 0;
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    int acc[ColTiles][4] = {};
    for (int slab = 0; slab < slabs; ++slab) {
      uint4 b[kChunksPerWarp][ColTiles];
      int offset[kChunksPerWarp];
#pragma unroll
      for (int u = 0; u < kChunksPerWarp; ++u) {
        offset[u] = (warp + u * Consumers) * kChunkBytes + 16 * t;
        const int kk = slab * SlabBytes + offset[u];
#pragma unroll
        for (int j = 0; j < ColTiles; ++j)
          b[u][j] = kk < p.k && x_ok[j] ? *reinterpret_cast<const uint4*>(x_row[j] + kk) : uint4{};
      }
      mbarrier_wait(&full[stage], round);
      const int8_t* rows_lo = ring + (stage * kTileRows + g) * kPitch;
      const int8_t* rows_hi = rows_lo + 8 * kPitch;
#pragma unroll
      for (int u = 0; u < kChunksPerWarp; ++u) {
        // Past K the stage holds stale bytes; x is zero there, so they add 0.
        const uint4 lo = *reinterpret_cast<const uint4*>(rows_lo + offset[u]);
        const uint4 hi = *reinterpret_cast<const uint4*>(rows_hi + offset[u]);
#pragma unroll
        for (int j = 0; j < ColTiles; ++j) {
          mma_s8(acc[j], lo.x, hi.x, lo.y, hi.y, b[u][j].x, b[u][j].y);
          mma_s8(acc[j], lo.z, hi.z, lo.w, hi.w, b[u][j].z, b[u][j].w);
        }
      }
      fence_proxy_async_shared();
      mbarrier_arrive(&empty[stage]);
      if (++stage == Stages) stage = 0, round ^= 1;
    }

    // Rows of a stage past N were never written: their sums are not stored.
#pragma unroll
    for (int j = 0; j < ColTiles; ++j)
#pragma unroll
      for (int q = 0; q < 4; ++q) partial[(warp * kAcc + j * 4 + q) * 32 + lane] = acc[j][q];
    named_barrier_sync(1, Consumers * 32);
    const int64_t n0 = tile * kTileRows;
    for (int idx = threadIdx.x; idx < kAcc * 32; idx += Consumers * 32) {
      const int e = idx / 32, l = idx % 32;
      int sum = 0;
#pragma unroll
      for (int w = 0; w < Consumers; ++w) sum += partial[(w * kAcc + e) * 32 + l];
      const int q = e % 4, j = e / 4;
      const int64_t row_n = n0 + (l >> 2) + (q >= 2 ? 8 : 0);
      const int row_m = 8 * j + 2 * (l & 3) + (q & 1);
      if (row_n < p.n && row_m < p.m)
        p.out[row_m * p.ld_out + row_n] = epilogue_out<Out>(epilogue, sum, row_m, row_n);
    }
    named_barrier_sync(1, Consumers * 32);
  }
}

}  // namespace gemm_int8::kernels::fused_linear
