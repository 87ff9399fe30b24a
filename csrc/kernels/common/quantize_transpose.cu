// quantize_cuda with a transpose: x (R, C) -> q (R, C) per row and qt (C, R)
// per column of x (or both with the tensor's scale), the rule of quantize.h.
//
// A scale along a dimension needs that whole dimension's maximum before any
// value is rounded, so x is read twice: first every tile publishes its rows'
// and columns' |x| maxima (integer atomics on |x|'s bit pattern: order-free,
// NaN above inf), then every tile rounds both ways, stores q directly and qt
// through a shared-memory transpose. Per element: two reads of x, one write
// each of q and qt; no separate transpose, nothing read back to the host.
//
// Both passes stream their strips' tiles through the ring of tile_ring.cuh.
// The second keeps its strip's column parameters in registers and walks the
// strips in the reverse order of the first, so that what the first read last
// is still in L2.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>

#include "core/quantize_math.h"
#include "gemm_int8/config.h"
#include "kernels/common/float_inputs.cuh"
#include "kernels/common/quantize_transpose.h"
#include "kernels/common/quantize_vectors.cuh"
#include "kernels/common/shared_memory_limit.h"
#include "kernels/common/tile_ring.cuh"

namespace gemm_int8::kernels {
namespace {

using namespace tiles;  // NOLINT: the kernels below are built from its pieces

constexpr int64_t kMaxBlocks = int64_t{1} << 20;

// The maxima over a warp's lanes of 8 values per lane, one per row, in 9
// shuffles instead of 40: each exchange halves the rows a lane keeps (lane
// bit 4 picks rows 4-7, bit 3 the upper two of those left, bit 2 the upper
// one), the last two finish the one row left, row lane / 4.
__device__ __forceinline__ uint32_t warp_max_per_row(const uint32_t (&v)[kRowsPerWarp]) {
  const int lane = threadIdx.x % 32;
  uint32_t four[4], two[2];
  const bool upper4 = lane & 16, upper2 = lane & 8, upper1 = lane & 4;
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    const uint32_t other = __shfl_xor_sync(0xffffffffu, upper4 ? v[k] : v[k + 4], 16);
    four[k] = max(upper4 ? v[k + 4] : v[k], other);
  }
#pragma unroll
  for (int k = 0; k < 2; ++k) {
    const uint32_t other = __shfl_xor_sync(0xffffffffu, upper2 ? four[k] : four[k + 2], 8);
    two[k] = max(upper2 ? four[k + 2] : four[k], other);
  }
  uint32_t one =
      max(upper1 ? two[1] : two[0], __shfl_xor_sync(0xffffffffu, upper1 ? two[0] : two[1], 4));
  one = max(one, __shfl_xor_sync(0xffffffffu, one, 2));
  return max(one, __shfl_xor_sync(0xffffffffu, one, 1));
}

template <typename T, int kStages>
struct Pass1Shared {
  Ring<T, kStages> ring;
  uint32_t partial[kWarps][kTileCols];
};

// Pass 1: each block walks strips, keeping its columns' maxima in registers
// (as magnitudes: two per word in 16-bit dtypes); rows publish per tile (a
// warp-wide max), columns once per strip.
template <typename T, bool kPerTensor, int kStages>
__global__ void __launch_bounds__(kThreads, 2)
    reduce_maxima(Input in, int64_t strip_tiles, uint32_t* row_keys, uint32_t* col_keys) {
  using C = Chunk<T>;
  extern __shared__ int4 shared_raw[];
  auto& shared = *reinterpret_cast<Pass1Shared<T, kStages>*>(shared_raw);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t strips = (in.tiles_r + strip_tiles - 1) / strip_tiles;
  for (int64_t b = blockIdx.x; b < strips * in.tiles_c; b += gridDim.x) {
    const Strip<T> strip(in, strip_tiles, b, false);
    uint32_t col_max[C::kWords] = {}, all = 0;
    walk_strip(in, strip, shared.ring, [&](int64_t tr, const Slot<T>& slot) {
      const int64_t r = tr * kTileRows + warp * kRowsPerWarp;
      uint32_t row_max[kRowsPerWarp];
#pragma unroll
      for (int i = 0; i < kRowsPerWarp; ++i) {
        uint32_t words[C::kWords], m = 0;
        row_words<T>(slot, i, words);
#pragma unroll
        for (int w = 0; w < C::kWords; ++w) {
          const uint32_t a = magnitudes<T>(words[w]);
          col_max[w] = max_magnitudes<T>(col_max[w], a);
          m = max_magnitudes<T>(m, a);
        }
        row_max[i] = key_of<T>(word_max<T>(m));
        if constexpr (kPerTensor) all = max(all, row_max[i]);
      }
      if constexpr (!kPerTensor) {
        // Lanes 4 * i .. 4 * i + 3 end with row i's maximum over the warp.
        const uint32_t key = warp_max_per_row(row_max);
        if (lane % 4 == 0 && lane / 4 < rows_inside(in, r, kRowsPerWarp))
          atomicMax(row_keys + r + lane / 4, key);
      }
    });
    if constexpr (kPerTensor) {
      all = warp_max(all);
      if (lane == 0) atomicMax(row_keys, all);
    } else {
#pragma unroll
      for (int j = 0; j < kChunk; ++j)
        shared.partial[warp][lane * kChunk + j] =
            key_of<T>(magnitude_at<T>(col_max[j / C::kPerWord], j % C::kPerWord));
      __syncthreads();
      uint32_t m = 0;
#pragma unroll
      for (int w = 0; w < kWarps; ++w) m = max(m, shared.partial[w][threadIdx.x]);
      if (strip.c0 + threadIdx.x < in.cols) atomicMax(col_keys + strip.c0 + threadIdx.x, m);
      __syncthreads();
    }
  }
}

struct Outputs {
  int8_t* q;
  int64_t ldq;
  bool q_vector;  // 8-byte stores
  int8_t* qt;
  int64_t ldqt;
  int qt_alignment;  // 16, 4 or 1: the widest store qt's rows allow
  float* scales;
  float* qt_scales;
};

// Pass 2's shared memory: the ring, and the tile's qt rows, 64 bytes each, as
// eight 8-byte units (one per warp) placed at unit ^ (column / 8 % 8) so that
// both the writes (a column per lane) and the 16-byte reads (a quarter warp
// per 128 contiguous bytes) spread over the banks.
template <typename T, int kStages>
struct Pass2Shared {
  Ring<T, kStages> ring;
  uint2 qt[kTileCols][kWarps];
};

// Rounds this thread's 8 x 8 values of a staged tile both ways: q rows
// straight to memory, qt as one 8-byte unit (8 rows) per column into `units`.
template <typename T, bool kPerTensor, bool kFinite>
__device__ __forceinline__ void round_block(const Slot<T>& slot,
                                            const QuantParams (&row)[kRowsPerWarp],
                                            const QuantParams (&col)[kChunk], const Strip<T>& strip,
                                            const Outputs& o, int8_t* q_row, int rows_here,
                                            uint2 (&units)[kChunk]) {
  auto round = [](float v, const QuantParams& p) {
    return static_cast<uint8_t>(kFinite ? quantize_finite(v, p) : quantize_value<false>(v, p));
  };
#pragma unroll
  for (int j = 0; j < kChunk; ++j) units[j] = make_uint2(0, 0);
#pragma unroll
  for (int i = 0; i < kRowsPerWarp; ++i, q_row += o.ldq) {
    uint32_t words[Chunk<T>::kWords];
    row_words<T>(slot, i, words);
    float values[kChunk];
#pragma unroll
    for (int j = 0; j < kChunk; ++j) values[j] = value_at<T>(words, j);
    uint32_t q_words[2] = {0, 0};
#pragma unroll
    for (int j = 0; j < kChunk; ++j) {
      const uint32_t q = round(values[j], row[i]);
      // One scale for the tensor: qt holds the same values.
      const uint32_t qt = kPerTensor ? q : round(values[j], col[j]);
      q_words[j / 4] |= q << (8 * (j % 4));
      (i < 4 ? units[j].x : units[j].y) |= qt << (8 * (i % 4));
    }
    if (i >= rows_here) continue;
    if (o.q_vector && strip.cols_here == kChunk) {
      *reinterpret_cast<uint2*>(q_row) = make_uint2(q_words[0], q_words[1]);
    } else {
#pragma unroll
      for (int j = 0; j < kChunk; ++j)
        if (j < strip.cols_here) q_row[j] = static_cast<int8_t>(q_words[j / 4] >> (8 * (j % 4)));
    }
  }
}

// Stores the tile's qt rows (x's columns c0.., rows r0..): 16 bytes per
// thread and step, a quarter warp per 128 contiguous bytes of shared memory.
__device__ __forceinline__ void store_qt(const uint2 (&tile)[kTileCols][kWarps], const Input& in,
                                         const Outputs& o, int64_t r0, int64_t c0) {
  constexpr int kPieces = kTileCols * kTileRows / 16;
  const int rows_tile = rows_inside(in, r0, kTileRows);
  const int cols_tile = clamp_count(in.cols - c0, kTileCols);
  int8_t* base = o.qt + c0 * o.ldqt + r0;
  if (rows_tile == kTileRows && cols_tile == kTileCols && o.qt_alignment == 16) {
    // A whole tile: thread t stores 16 bytes at row offset t % 4 of columns
    // t / 4 + 64 m, whose swizzle is always its warp.
    const int g = threadIdx.x % 4, swizzle = threadIdx.x / 32;
    const uint2* from = &tile[threadIdx.x / 4][(2 * g) ^ (swizzle & ~1)];
    int8_t* out = base + threadIdx.x / 4 * o.ldqt + g * 16;
#pragma unroll
    for (int m = 0; m < kPieces / kThreads; ++m) {
      uint4 v = *reinterpret_cast<const uint4*>(from + m * (kThreads / 4) * kWarps);
      if (swizzle & 1) v = make_uint4(v.z, v.w, v.x, v.y);
      *reinterpret_cast<uint4*>(out + m * (kThreads / 4) * o.ldqt) = v;
    }
    return;
  }
#pragma unroll
  for (int idx = threadIdx.x; idx < kPieces; idx += kThreads) {
    const int col = idx / 4, g = idx % 4, swizzle = col / kChunk % kWarps;
    const int valid = rows_tile - g * 16;
    if (col >= cols_tile || valid <= 0) continue;
    // Units 2g and 2g + 1 sit in one 16-byte slot, swapped when the swizzle is odd.
    uint4 v = *reinterpret_cast<const uint4*>(&tile[col][(2 * g) ^ (swizzle & ~1)]);
    if (swizzle & 1) v = make_uint4(v.z, v.w, v.x, v.y);
    int8_t* out = base + col * o.ldqt + g * 16;
    if (o.qt_alignment == 16 && valid >= 16) {
      *reinterpret_cast<uint4*>(out) = v;
    } else {
      const uint32_t words[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
      for (int w = 0; w < 4; ++w) {
        if (o.qt_alignment >= 4 && valid >= 4 * w + 4) {
          *reinterpret_cast<uint32_t*>(out + 4 * w) = words[w];
        } else {
          for (int b = 0; b < 4 && 4 * w + b < valid; ++b)
            out[4 * w + b] = static_cast<int8_t>(words[w] >> (8 * b));
        }
      }
    }
  }
}

// Lane l's key: of row l % 8 of this warp's 8 rows in tile row `tr`.
__device__ __forceinline__ uint32_t row_key(const Input& in, const uint32_t* row_keys, int64_t tr) {
  const int64_t r = tr * kTileRows + threadIdx.x / 32 * kRowsPerWarp + threadIdx.x % 8;
  return r < in.rows ? __ldg(row_keys + r) : 0u;
}

// Pass 2: each block walks strips (in the reverse order of pass 1); q straight
// from registers, qt through the shared tile. A row's key is loaded a tile
// ahead; shuffles hand the 8 rows' parameters to every lane.
template <typename T, bool kPerTensor, int kStages>
__global__ void __launch_bounds__(kThreads, 2)
    write_both(Input in, int64_t strip_tiles, const uint32_t* row_keys, const uint32_t* col_keys,
               Outputs o) {
  extern __shared__ int4 shared_raw[];
  auto& shared = *reinterpret_cast<Pass2Shared<T, kStages>*>(shared_raw);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t strips = (in.tiles_r + strip_tiles - 1) / strip_tiles;
  for (int64_t b = blockIdx.x; b < strips * in.tiles_c; b += gridDim.x) {
    const Strip<T> strip(in, strip_tiles, b, true);
    QuantParams col[kChunk];
    bool col_finite = true;
#pragma unroll
    for (int j = 0; j < kChunk; ++j) {
      col[j] = params_of_abs_max(kPerTensor ? *col_keys
                                            : (j < strip.cols_here ? col_keys[strip.c + j] : 0u));
      col_finite &= col[j].inv_scale != 0.0f;
    }
    // The first strip of each column tile publishes the column scales.
    if (!kPerTensor && strip.first == 0 && warp == 0)
#pragma unroll
      for (int j = 0; j < kChunk; ++j)
        if (j < strip.cols_here) o.qt_scales[strip.c + j] = col[j].scale;
    if (kPerTensor && b == 0 && threadIdx.x == 0) *o.scales = *o.qt_scales = col[0].scale;

    uint32_t key = kPerTensor ? 0u : row_key(in, row_keys, strip.first);
    walk_strip(in, strip, shared.ring, [&](int64_t tr, const Slot<T>& slot) {
      const uint32_t next_key =
          !kPerTensor && tr + 1 < strip.last ? row_key(in, row_keys, tr + 1) : 0u;
      const int64_t r0 = tr * kTileRows, r = r0 + warp * kRowsPerWarp;
      QuantParams row[kRowsPerWarp];
      bool finite = col_finite;
      if constexpr (kPerTensor) {
#pragma unroll
        for (int i = 0; i < kRowsPerWarp; ++i) row[i] = col[0];
      } else {
        const QuantParams mine = params_of_abs_max(key);
        if (strip.tc == 0 && lane < kRowsPerWarp && r + lane < in.rows)
          o.scales[r + lane] = mine.scale;
#pragma unroll
        for (int i = 0; i < kRowsPerWarp; ++i) {
          row[i].scale = __shfl_sync(0xffffffffu, mine.scale, i);
          row[i].inv_scale = __shfl_sync(0xffffffffu, mine.inv_scale, i);
        }
        finite &= __all_sync(0xffffffffu, mine.inv_scale != 0.0f);
      }
      int8_t* q_row = o.q + r * o.ldq + strip.c;
      const int rows_here = rows_inside(in, r, kRowsPerWarp);
      uint2 units[kChunk];
      if (finite) {
        round_block<T, kPerTensor, true>(slot, row, col, strip, o, q_row, rows_here, units);
      } else {
        round_block<T, kPerTensor, false>(slot, row, col, strip, o, q_row, rows_here, units);
      }
#pragma unroll
      for (int j = 0; j < kChunk; ++j)
        shared.qt[lane * kChunk + j][warp ^ (lane % kWarps)] = units[j];
      __syncthreads();
      store_qt(shared.qt, in, o, r0, strip.c0);
      __syncthreads();
      key = next_key;
    });
  }
}

// An empty x: every group is empty, so every scale is 1 (quantize.h).
__global__ void unit_scales(float* scales, int64_t groups, float* qt_scales, int64_t qt_groups) {
  for (int64_t g = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; g < groups + qt_groups;
       g += int64_t{gridDim.x} * blockDim.x)
    (g < groups ? scales[g] : qt_scales[g - groups]) = 1.0f;
}

bool aligned(const void* p, int64_t stride_bytes, int bytes) {
  return reinterpret_cast<uintptr_t>(p) % bytes == 0 && stride_bytes % bytes == 0;
}

unsigned grid_for(int64_t units) {
  return static_cast<unsigned>(std::max<int64_t>(1, std::min(units, kMaxBlocks)));
}

// The ring's depth on this GPU: three tiles where a block may take the
// memory (Hopper, A100 in 16-bit dtypes), one otherwise (0: not even one tile
// fits, e.g. float32 on sm_75: quantize_cuda then runs two plain passes).
template <typename T>
int stages_that_fit(const DeviceInfo& device) {
  if (sizeof(Pass2Shared<T, 3>) <= static_cast<size_t>(device.shared_memory_per_block)) return 3;
  if (sizeof(Pass2Shared<T, 1>) <= static_cast<size_t>(device.shared_memory_per_block)) return 1;
  return 0;
}

template <typename T, bool kPerTensor, int kStages>
cudaError_t run_passes(const QuantizeProblem& p, const Input& in, const Outputs& o,
                       uint32_t* row_keys, uint32_t* col_keys, const DeviceInfo& device,
                       cudaStream_t stream) {
  constexpr auto kReduce = reduce_maxima<T, kPerTensor, kStages>;
  constexpr auto kWrite = write_both<T, kPerTensor, kStages>;
  constexpr int kReduceBytes = sizeof(Pass1Shared<T, kStages>);
  constexpr int kWriteBytes = sizeof(Pass2Shared<T, kStages>);
  cudaError_t err = raise_shared_memory_limit_once<kReduce>(p.x.device.index, kReduceBytes);
  if (err == cudaSuccess)
    err = raise_shared_memory_limit_once<kWrite>(p.x.device.index, kWriteBytes);
  if (err != cudaSuccess) return err;
  // Blocks resident per SM (the launch bounds allow two): one wave of strips.
  const int per_sm = std::clamp(device.shared_memory_per_sm / (kWriteBytes + 1024), 1, 2);
  const int64_t strip = strip_tiles_for(in, int64_t{device.sm_count} * per_sm);
  const unsigned blocks = grid_for((in.tiles_r + strip - 1) / strip * in.tiles_c);
  kReduce<<<blocks, kThreads, kReduceBytes, stream>>>(in, strip, row_keys, col_keys);
  kWrite<<<blocks, kThreads, kWriteBytes, stream>>>(in, strip, row_keys, col_keys, o);
  return cudaGetLastError();
}

template <typename T, bool kPerTensor>
cudaError_t launch(const QuantizeProblem& p, const DeviceInfo& device, uint32_t* keys,
                   cudaStream_t stream) {
  const int64_t rows = p.x.rows, cols = p.x.cols;
  const Input in{p.x.data,
                 p.x.row_stride,
                 p.x.col_stride,
                 p.x.col_stride == 1 &&
                     aligned(p.x.data, (rows > 1 ? p.x.row_stride : 0) * int64_t{sizeof(T)}, 16),
                 rows,
                 cols,
                 (rows + kTileRows - 1) / kTileRows,
                 (cols + kTileCols - 1) / kTileCols};
  const int64_t tiles = in.tiles_r * in.tiles_c;
  if (tiles == 0) {
    const int64_t groups = quantize_groups(p), qt_groups = transposed_groups(p);
    if (groups + qt_groups > 0)
      unit_scales<<<grid_for((groups + qt_groups + 255) / 256), 256, 0, stream>>>(
          p.scales, groups, p.qt_scales, qt_groups);
    return cudaGetLastError();
  }
  const int64_t ldqt = cols > 1 ? p.qt.row_stride : 0;
  const Outputs o{static_cast<int8_t*>(p.q.data),
                  p.q.row_stride,
                  aligned(p.q.data, rows > 1 ? p.q.row_stride : 0, 8),
                  static_cast<int8_t*>(p.qt.data),
                  p.qt.row_stride,
                  aligned(p.qt.data, ldqt, 16) ? 16 : (aligned(p.qt.data, ldqt, 4) ? 4 : 1),
                  p.scales,
                  p.qt_scales};
  uint32_t* row_keys = keys;
  uint32_t* col_keys = kPerTensor ? keys : keys + rows;
  const cudaError_t err = cudaMemsetAsync(keys, 0, quantize_transpose_workspace_bytes(p), stream);
  if (err != cudaSuccess) return err;

  return stages_that_fit<T>(device) == 3
             ? run_passes<T, kPerTensor, 3>(p, in, o, row_keys, col_keys, device, stream)
             : run_passes<T, kPerTensor, 1>(p, in, o, row_keys, col_keys, device, stream);
}

}  // namespace

size_t quantize_transpose_workspace_bytes(const QuantizeProblem& problem) {
  // Two keys per tensor: what the plain kernels need when the transpose
  // kernels do not fit (quantize_transpose_fits).
  const int64_t keys =
      problem.granularity == Granularity::kTensor ? 2 : problem.x.rows + problem.x.cols;
  return static_cast<size_t>(keys) * sizeof(uint32_t);
}

bool quantize_transpose_fits(const QuantizeProblem& p, const DeviceInfo& device) {
  return with_float_type(p.x.dtype, [&](auto t) { return stages_that_fit<decltype(t)>(device); }) >
         0;
}

Status quantize_transpose_cuda(const QuantizeProblem& p, const DeviceInfo& device, uint32_t* keys,
                               cudaStream_t stream) {
  const cudaError_t err = with_float_type(p.x.dtype, [&](auto t) {
    using T = decltype(t);
    return p.granularity == Granularity::kTensor ? launch<T, true>(p, device, keys, stream)
                                                 : launch<T, false>(p, device, keys, stream);
  });
  if (err != cudaSuccess)
    return Status::cuda_error(std::string("quantize: transpose kernels failed to launch: ") +
                              cudaGetErrorString(err));
  return {};
}

}  // namespace gemm_int8::kernels
