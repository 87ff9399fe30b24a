// quantize_cuda with a transpose: x (R, C) -> q (R, C) per row and qt (C, R)
// per column of x (or both with the tensor's scale), the rule of quantize.h.
//
// A scale along a dimension needs that whole dimension's maximum before any
// value is rounded, so x is read twice: first every tile publishes its rows'
// and columns' |x| maxima (integer atomics on |x|'s bit pattern: order-free,
// NaN above inf), then every tile rounds both ways, stores q directly and qt
// through a shared-memory transpose. Per element: two reads of x, one write
// each of q and qt; no separate transpose, nothing read back to the host.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "core/quantize_math.h"
#include "kernels/common/float_inputs.cuh"
#include "kernels/common/quantize_transpose.h"

namespace gemm_int8::kernels {
namespace {

// A tile is kTileRows x kTileCols of x; each of the 256 threads holds a
// chunk of 8 consecutive columns in 4 consecutive rows (so one 32-bit word
// of qt per column: 4 of its consecutive elements).
constexpr int kThreads = 256;
constexpr int kChunk = 8;
constexpr int kRowsPerThread = 4;
constexpr int kChunksPerRow = 16;
constexpr int kTileCols = kChunksPerRow * kChunk;                     // 128
constexpr int kTileRows = kThreads / kChunksPerRow * kRowsPerThread;  // 64
constexpr int kPitchWords = kTileRows / 4 + 1;  // qt tile row + 1 word against bank conflicts
constexpr int64_t kMaxBlocks = int64_t{1} << 20;

struct Shape {
  int64_t rows, cols, tiles_c;
  __device__ int64_t tiles() const { return (rows + kTileRows - 1) / kTileRows * tiles_c; }
};

// This thread's place in tile `tile`: first row, first column of its chunk.
struct Place {
  int64_t r, c;
  int cc, rg;
  __device__ Place(const Shape& s, int64_t tile)
      : cc(threadIdx.x % kChunksPerRow), rg(threadIdx.x / kChunksPerRow) {
    r = tile / s.tiles_c * kTileRows + rg * kRowsPerThread;
    c = tile % s.tiles_c * kTileCols + cc * kChunk;
  }
};

// x[r, c .. c + 8) as float32; zeros outside x (neutral for |x| maxima, and
// never stored).
template <typename T>
__device__ __forceinline__ void load_chunk(const T* x, int64_t ldx, int64_t x_col_stride,
                                           bool vector, const Shape& s, int64_t r, int64_t c,
                                           float (&v)[kChunk]) {
#pragma unroll
  for (int j = 0; j < kChunk; ++j) v[j] = 0.0f;
  if (r >= s.rows) return;
  const T* p = x + r * ldx + c * x_col_stride;
  if (vector && c + kChunk <= s.cols) {
    constexpr int kVectors = kChunk * sizeof(T) / 16;
    int4 raw[kVectors];
#pragma unroll
    for (int i = 0; i < kVectors; ++i) raw[i] = __ldg(reinterpret_cast<const int4*>(p) + i);
    const T* e = reinterpret_cast<const T*>(raw);
#pragma unroll
    for (int j = 0; j < kChunk; ++j) v[j] = to_float(e[j]);
    return;
  }
  for (int j = 0; j < kChunk && c + j < s.cols; ++j) v[j] = to_float(p[j * x_col_stride]);
}

__device__ __forceinline__ uint32_t abs_bits(float v) { return __float_as_uint(v) & 0x7fffffffu; }

__device__ __forceinline__ QuantParams params_of(float scale) {
  return {scale, 0, reciprocal_for_divide(scale)};
}

__device__ __forceinline__ float scale_of(uint32_t key) {
  QuantStats s;
  s.hi = __uint_as_float(key);
  return quant_params<false>(s).scale;
}

template <typename T, bool kPerTensor>
__global__ void __launch_bounds__(kThreads)
    reduce_maxima(const T* __restrict__ x, int64_t ldx, int64_t x_col_stride, bool vector, Shape s,
                  uint32_t* row_keys, uint32_t* col_keys) {
  __shared__ uint32_t partial[kThreads / kChunksPerRow][kTileCols];
  for (int64_t tile = blockIdx.x; tile < s.tiles(); tile += gridDim.x) {
    const Place at(s, tile);
    uint32_t col_max[kChunk] = {}, all = 0;
#pragma unroll
    for (int i = 0; i < kRowsPerThread; ++i) {
      float v[kChunk];
      load_chunk(x, ldx, x_col_stride, vector, s, at.r + i, at.c, v);
      uint32_t row_max = 0;
#pragma unroll
      for (int j = 0; j < kChunk; ++j) {
        row_max = max(row_max, abs_bits(v[j]));
        col_max[j] = max(col_max[j], abs_bits(v[j]));
      }
      if constexpr (kPerTensor) {
        all = max(all, row_max);
      } else {
        // The 16 chunks of a row are 16 neighbouring lanes.
        for (int offset = 1; offset < kChunksPerRow; offset *= 2)
          row_max = max(row_max, __shfl_xor_sync(0xffffffffu, row_max, offset));
        if (at.cc == 0 && at.r + i < s.rows) atomicMax(row_keys + at.r + i, row_max);
      }
    }
    if constexpr (kPerTensor) {
      for (int offset = 16; offset > 0; offset /= 2)
        all = max(all, __shfl_xor_sync(0xffffffffu, all, offset));
      if (threadIdx.x % 32 == 0) atomicMax(row_keys, all);
    } else {
#pragma unroll
      for (int j = 0; j < kChunk; ++j) partial[at.rg][at.cc * kChunk + j] = col_max[j];
      __syncthreads();
      if (threadIdx.x < kTileCols) {
        uint32_t m = 0;
        for (int g = 0; g < kThreads / kChunksPerRow; ++g) m = max(m, partial[g][threadIdx.x]);
        const int64_t c = tile % s.tiles_c * kTileCols + threadIdx.x;
        if (c < s.cols) atomicMax(col_keys + c, m);
      }
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
  bool qt_vector;  // 16-byte stores
  float* scales;
  float* qt_scales;
};

// Rounds this thread's 4 x 8 values both ways; q directly, qt into `words`.
template <typename T, bool kPerTensor>
__device__ __forceinline__ void round_chunk(const T* x, int64_t ldx, int64_t x_col_stride,
                                            bool vector, const Shape& s, const Place& at,
                                            const uint32_t* row_keys, const uint32_t* col_keys,
                                            const Outputs& o, uint32_t (&words)[kChunk]) {
  QuantParams col[kChunk];
#pragma unroll
  for (int j = 0; j < kChunk; ++j) {
    const int64_t c = at.c + j;
    col[j] = params_of(scale_of(kPerTensor ? col_keys[0] : (c < s.cols ? col_keys[c] : 0u)));
    words[j] = 0;
  }
#pragma unroll
  for (int i = 0; i < kRowsPerThread; ++i) {
    const int64_t r = at.r + i;
    float v[kChunk];
    load_chunk(x, ldx, x_col_stride, vector, s, r, at.c, v);
    const QuantParams row =
        kPerTensor ? col[0] : params_of(scale_of(r < s.rows ? row_keys[r] : 0u));
    uint32_t q_words[2] = {0, 0};
#pragma unroll
    for (int j = 0; j < kChunk; ++j) {
      q_words[j / 4] |= uint32_t{static_cast<uint8_t>(quantize_value<false>(v[j], row))}
                        << (8 * (j % 4));
      words[j] |= uint32_t{static_cast<uint8_t>(quantize_value<false>(v[j], col[j]))} << (8 * i);
    }
    if (r >= s.rows) continue;
    int8_t* out = o.q + r * o.ldq + at.c;
    if (o.q_vector && at.c + kChunk <= s.cols) {
      *reinterpret_cast<uint2*>(out) = make_uint2(q_words[0], q_words[1]);
    } else {
      for (int j = 0; j < kChunk && at.c + j < s.cols; ++j)
        out[j] = static_cast<int8_t>(q_words[j / 4] >> (8 * (j % 4)));
    }
  }
}

template <typename T, bool kPerTensor>
__global__ void __launch_bounds__(kThreads)
    write_both(const T* __restrict__ x, int64_t ldx, int64_t x_col_stride, bool vector, Shape s,
               const uint32_t* row_keys, const uint32_t* col_keys, Outputs o) {
  __shared__ uint32_t qt_tile[kTileCols][kPitchWords];
  for (int64_t tile = blockIdx.x; tile < s.tiles(); tile += gridDim.x) {
    const Place at(s, tile);
    const int64_t r0 = tile / s.tiles_c * kTileRows, c0 = tile % s.tiles_c * kTileCols;
    // The first tile row and column publish the scales (a pure function of the keys).
    if (kPerTensor && tile == 0 && threadIdx.x == 0)
      *o.scales = *o.qt_scales = scale_of(row_keys[0]);
    if (!kPerTensor && c0 == 0 && threadIdx.x < kTileRows && r0 + threadIdx.x < s.rows)
      o.scales[r0 + threadIdx.x] = scale_of(row_keys[r0 + threadIdx.x]);
    if (!kPerTensor && r0 == 0 && threadIdx.x < kTileCols && c0 + threadIdx.x < s.cols)
      o.qt_scales[c0 + threadIdx.x] = scale_of(col_keys[c0 + threadIdx.x]);
    uint32_t words[kChunk];
    round_chunk<T, kPerTensor>(x, ldx, x_col_stride, vector, s, at, row_keys, col_keys, o, words);
#pragma unroll
    for (int j = 0; j < kChunk; ++j) qt_tile[at.cc * kChunk + j][at.rg] = words[j];
    __syncthreads();
    // qt rows c0 .. c0 + 128, 64 bytes each: 16 bytes per thread and pass.
    for (int idx = threadIdx.x; idx < kTileCols * 4; idx += kThreads) {
      const int cl = idx / 4, part = idx % 4;
      const int64_t c = c0 + cl, r = r0 + part * 16;
      if (c >= s.cols || r >= s.rows) continue;
      const uint32_t* w = &qt_tile[cl][part * 4];
      int8_t* out = o.qt + c * o.ldqt + r;
      if (o.qt_vector && r + 16 <= s.rows) {
        *reinterpret_cast<uint4*>(out) = make_uint4(w[0], w[1], w[2], w[3]);
      } else {
        for (int b = 0; b < 16 && r + b < s.rows; ++b)
          out[b] = static_cast<int8_t>(w[b / 4] >> (8 * (b % 4)));
      }
    }
    __syncthreads();
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

template <typename T, bool kPerTensor>
cudaError_t launch(const QuantizeProblem& p, uint32_t* keys, cudaStream_t stream) {
  const T* x = static_cast<const T*>(p.x.data);
  const Shape s{p.x.rows, p.x.cols, (p.x.cols + kTileCols - 1) / kTileCols};
  const int64_t tiles = (s.rows + kTileRows - 1) / kTileRows * s.tiles_c;
  const auto blocks = static_cast<unsigned>(std::max<int64_t>(1, std::min(tiles, kMaxBlocks)));
  const bool vector = p.x.col_stride == 1 &&
                      aligned(p.x.data, (s.rows > 1 ? p.x.row_stride : 0) * int64_t{sizeof(T)}, 16);
  const Outputs o{static_cast<int8_t*>(p.q.data),
                  p.q.row_stride,
                  aligned(p.q.data, s.rows > 1 ? p.q.row_stride : 0, 8),
                  static_cast<int8_t*>(p.qt.data),
                  p.qt.row_stride,
                  aligned(p.qt.data, s.cols > 1 ? p.qt.row_stride : 0, 16),
                  p.scales,
                  p.qt_scales};
  if (tiles == 0) {
    const int64_t groups = quantize_groups(p), qt_groups = transposed_groups(p);
    if (groups + qt_groups > 0)
      unit_scales<<<static_cast<unsigned>(
                        std::min<int64_t>((groups + qt_groups + 255) / 256, 1024)),
                    256, 0, stream>>>(p.scales, groups, p.qt_scales, qt_groups);
    return cudaGetLastError();
  }
  uint32_t* row_keys = keys;
  uint32_t* col_keys = kPerTensor ? keys : keys + s.rows;
  const cudaError_t err = cudaMemsetAsync(keys, 0, quantize_transpose_workspace_bytes(p), stream);
  if (err != cudaSuccess) return err;
  reduce_maxima<T, kPerTensor><<<blocks, kThreads, 0, stream>>>(x, p.x.row_stride, p.x.col_stride,
                                                                vector, s, row_keys, col_keys);
  write_both<T, kPerTensor><<<blocks, kThreads, 0, stream>>>(x, p.x.row_stride, p.x.col_stride,
                                                             vector, s, row_keys, col_keys, o);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_granularity(const QuantizeProblem& p, uint32_t* keys, cudaStream_t stream) {
  return p.granularity == Granularity::kTensor ? launch<T, true>(p, keys, stream)
                                               : launch<T, false>(p, keys, stream);
}

}  // namespace

size_t quantize_transpose_workspace_bytes(const QuantizeProblem& problem) {
  const int64_t keys =
      problem.granularity == Granularity::kTensor ? 1 : problem.x.rows + problem.x.cols;
  return static_cast<size_t>(keys) * sizeof(uint32_t);
}

Status quantize_transpose_cuda(const QuantizeProblem& p, uint32_t* keys, cudaStream_t stream) {
  cudaError_t err;
  switch (p.x.dtype) {
    case DType::kFloat32: err = launch_granularity<float>(p, keys, stream); break;
    case DType::kBFloat16: err = launch_granularity<__nv_bfloat16>(p, keys, stream); break;
    default: err = launch_granularity<__half>(p, keys, stream); break;
  }
  if (err != cudaSuccess)
    return Status::cuda_error(std::string("quantize: transpose kernels failed to launch: ") +
                              cudaGetErrorString(err));
  return {};
}

}  // namespace gemm_int8::kernels
