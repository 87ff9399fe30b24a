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
#include <cstring>
#include <string>

#include "core/quantize_math.h"
#include "kernels/common/float_inputs.cuh"
#include "kernels/common/quantize_transpose.h"
#include "kernels/common/quantize_vectors.cuh"

namespace gemm_int8::kernels {
namespace {

// A tile is kTileRows x kTileCols of x: each warp spans a tile row (a lane
// per chunk of 8 consecutive columns, one 16-byte load in bfloat16) and owns
// 8 consecutive rows, so each column's 8 values pack into two words of qt.
constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kChunk = 8;
constexpr int kRowsPerWarp = 8;
constexpr int kTileCols = 32 * kChunk;            // 256
constexpr int kTileRows = kWarps * kRowsPerWarp;  // 64
constexpr int kQtWords = kTileRows / 4;           // one qt row of a tile: 16 words
constexpr int64_t kReduceBlocks = 2048;           // enough to fill any GPU twice
constexpr int64_t kMaxStripTiles = 16;
constexpr int64_t kMaxBlocks = int64_t{1} << 20;

struct Input {
  const void* x;
  int64_t ldx, col_stride;
  bool vector;  // 16-byte loads: unit column stride, 16-byte aligned rows
  int64_t rows, cols, tiles_r, tiles_c;
};

// The 8 x 8 block of x this thread holds: kVecs 16-byte words per row, in
// x's own dtype (widened per use); zeros outside x (neutral for |x| maxima,
// never stored).
template <typename T>
struct Block {
  static constexpr int kVecs = kChunk * sizeof(T) / 16;
  int4 raw[kRowsPerWarp][kVecs];

  __device__ void load(const Input& in, int64_t r, int64_t c) {
    const T* x = static_cast<const T*>(in.x);
    if (in.vector && c + kChunk <= in.cols && r + kRowsPerWarp <= in.rows) {
#pragma unroll
      for (int i = 0; i < kRowsPerWarp; ++i)
#pragma unroll
        for (int k = 0; k < kVecs; ++k)
          raw[i][k] = __ldg(reinterpret_cast<const int4*>(x + (r + i) * in.ldx + c) + k);
      return;
    }
#pragma unroll
    for (int i = 0; i < kRowsPerWarp; ++i) {
      const Row row = load_edge_row(x, in.ldx, in.col_stride, in.rows, in.cols, r + i, c);
#pragma unroll
      for (int k = 0; k < kVecs; ++k) raw[i][k] = row.vecs[k];
    }
  }

  // A row of a tile at x's edge, or of an x without 16-byte rows: element by
  // element, zeros outside x.
  struct Row {
    int4 vecs[kVecs];
  };
  static __device__ __noinline__ Row load_edge_row(const T* x, int64_t ldx, int64_t col_stride,
                                                   int64_t rows, int64_t cols, int64_t r,
                                                   int64_t c) {
    T values[kChunk];
    const T* p = x + r * ldx + c * col_stride;
    for (int j = 0; j < kChunk; ++j, p += col_stride)
      values[j] = r < rows && c + j < cols ? *p : T(0.0f);
    Row row;
    memcpy(&row, values, sizeof(values));
    return row;
  }

  __device__ float at(int i, int j) const {
    return to_float(reinterpret_cast<const T*>(raw[i])[j]);
  }
};

// Pass 1: each block walks a strip of row tiles of one column tile, keeping
// its columns' maxima in registers; rows publish per tile (a warp-wide max),
// columns once per strip.
template <typename T, bool kPerTensor>
__global__ void __launch_bounds__(kThreads)
    reduce_maxima(Input in, int64_t strip_tiles, uint32_t* row_keys, uint32_t* col_keys) {
  __shared__ uint32_t partial[kWarps][kTileCols];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t strips = (in.tiles_r + strip_tiles - 1) / strip_tiles;
  for (int64_t b = blockIdx.x; b < strips * in.tiles_c; b += gridDim.x) {
    const int64_t tc = b % in.tiles_c, first = b / in.tiles_c * strip_tiles;
    const int64_t c = tc * kTileCols + lane * kChunk;
    uint32_t col_max[kChunk] = {}, all = 0;
    for (int64_t tr = first; tr < first + strip_tiles && tr < in.tiles_r; ++tr) {
      const int64_t r = tr * kTileRows + warp * kRowsPerWarp;
      Block<T> block;
      block.load(in, r, c);
#pragma unroll
      for (int i = 0; i < kRowsPerWarp; ++i) {
        uint32_t row_max = 0;
#pragma unroll
        for (int j = 0; j < kChunk; ++j) {
          const uint32_t bits = abs_bits(block.at(i, j));
          row_max = max(row_max, bits);
          col_max[j] = max(col_max[j], bits);
        }
        if constexpr (kPerTensor) {
          all = max(all, row_max);
        } else {
          row_max = warp_max(row_max);
          if (lane == 0 && r + i < in.rows) atomicMax(row_keys + r + i, row_max);
        }
      }
    }
    if constexpr (kPerTensor) {
      all = warp_max(all);
      if (lane == 0) atomicMax(row_keys, all);
    } else {
#pragma unroll
      for (int j = 0; j < kChunk; ++j) partial[warp][lane * kChunk + j] = col_max[j];
      __syncthreads();
      uint32_t m = 0;
#pragma unroll
      for (int w = 0; w < kWarps; ++w) m = max(m, partial[w][threadIdx.x]);
      const int64_t col = tc * kTileCols + threadIdx.x;
      if (col < in.cols) atomicMax(col_keys + col, m);
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
  bool qt_vector;  // 4-byte stores
  float* scales;
  float* qt_scales;
};

__device__ __forceinline__ uint32_t byte_at(uint32_t word, int b) {
  return (word >> (8 * b)) & 0xffu;
}

// Word w of qt row `col` in the shared tile, XOR-swizzled by the writing
// lane (col / 8) so that both the packing and the read-out are (nearly)
// free of bank conflicts.
__device__ __forceinline__ uint32_t& qt_word(uint32_t (&tile)[kTileCols][kQtWords], int col,
                                             int w) {
  return tile[col][w ^ ((col / kChunk) % kQtWords)];
}

// Rounds this thread's 8 x 8 values both ways: q rows straight to memory,
// qt as two words (8 rows) per column.
template <typename T, bool kPerTensor, bool kFinite>
__device__ __forceinline__ void round_block(const Block<T>& block,
                                            const QuantParams (&row)[kRowsPerWarp],
                                            const QuantParams (&col)[kChunk], const Input& in,
                                            const Outputs& o, int64_t r, int64_t c,
                                            uint32_t (&words)[kChunk][2]) {
  auto round = [](float v, const QuantParams& p) {
    return static_cast<uint8_t>(kFinite ? quantize_finite(v, p) : quantize_value<false>(v, p));
  };
#pragma unroll
  for (int j = 0; j < kChunk; ++j) words[j][0] = words[j][1] = 0;
#pragma unroll
  for (int i = 0; i < kRowsPerWarp; ++i) {
    uint32_t q_words[2] = {0, 0};
#pragma unroll
    for (int j = 0; j < kChunk; ++j) {
      const float v = block.at(i, j);
      const uint32_t q = round(v, row[i]);
      // One scale for the tensor: qt holds the same values.
      const uint32_t qt = kPerTensor ? q : round(v, col[j]);
      q_words[j / 4] |= q << (8 * (j % 4));
      words[j][i / 4] |= qt << (8 * (i % 4));
    }
    if (r + i >= in.rows) continue;
    int8_t* out = o.q + (r + i) * o.ldq + c;
    if (o.q_vector && c + kChunk <= in.cols) {
      *reinterpret_cast<uint2*>(out) = make_uint2(q_words[0], q_words[1]);
    } else {
#pragma unroll
      for (int j = 0; j < kChunk; ++j)
        if (c + j < in.cols) out[j] = static_cast<int8_t>(byte_at(q_words[j / 4], j % 4));
    }
  }
}

// Pass 2: one tile per iteration; q straight from registers, qt through
// the shared tile (each qt row gets 64 contiguous bytes per tile).
template <typename T, bool kPerTensor>
__global__ void __launch_bounds__(kThreads, 2)
    write_both(Input in, const uint32_t* row_keys, const uint32_t* col_keys, Outputs o) {
  __shared__ uint32_t tile[kTileCols][kQtWords];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (int64_t t = blockIdx.x; t < in.tiles_r * in.tiles_c; t += gridDim.x) {
    const int64_t r0 = t / in.tiles_c * kTileRows, c0 = t % in.tiles_c * kTileCols;
    const int64_t r = r0 + warp * kRowsPerWarp, c = c0 + lane * kChunk;
    Block<T> block;
    block.load(in, r, c);
    // The first tile row and column publish the scales (pure functions of the keys).
    if (kPerTensor && t == 0 && threadIdx.x == 0)
      *o.scales = *o.qt_scales = params_of_abs_max(*row_keys).scale;
    if (!kPerTensor && c0 == 0 && threadIdx.x < kTileRows && r0 + threadIdx.x < in.rows)
      o.scales[r0 + threadIdx.x] = params_of_abs_max(row_keys[r0 + threadIdx.x]).scale;
    if (!kPerTensor && r0 == 0 && c0 + threadIdx.x < in.cols)
      o.qt_scales[c0 + threadIdx.x] = params_of_abs_max(col_keys[c0 + threadIdx.x]).scale;
    QuantParams col[kChunk];
#pragma unroll
    for (int j = 0; j < kChunk; ++j)
      col[j] = params_of_abs_max(kPerTensor ? *col_keys : (c + j < in.cols ? col_keys[c + j] : 0u));
    QuantParams row[kRowsPerWarp];
    bool finite = true;  // every group here takes the branch-free rounding
#pragma unroll
    for (int i = 0; i < kRowsPerWarp; ++i) {
      row[i] = kPerTensor ? col[0] : params_of_abs_max(r + i < in.rows ? row_keys[r + i] : 0u);
      finite &= row[i].inv_scale != 0.0f;
    }
#pragma unroll
    for (int j = 0; j < kChunk; ++j) finite &= col[j].inv_scale != 0.0f;
    uint32_t words[kChunk][2];
    if (finite) {
      round_block<T, kPerTensor, true>(block, row, col, in, o, r, c, words);
    } else {
      round_block<T, kPerTensor, false>(block, row, col, in, o, r, c, words);
    }
#pragma unroll
    for (int j = 0; j < kChunk; ++j)
#pragma unroll
      for (int h = 0; h < 2; ++h) qt_word(tile, lane * kChunk + j, warp * 2 + h) = words[j][h];
    __syncthreads();
    // qt rows c0 .. c0 + 256: a warp stores two of them, 64 bytes each.
#pragma unroll 4
    for (int idx = threadIdx.x; idx < kTileCols * kQtWords; idx += kThreads) {
      const int col = idx / kQtWords, w = idx % kQtWords;
      const int64_t qc = c0 + col, qr = r0 + w * 4;
      if (qc >= in.cols || qr >= in.rows) continue;
      const uint32_t word = qt_word(tile, col, w);
      int8_t* out = o.qt + qc * o.ldqt + qr;
      if (o.qt_vector && qr + 4 <= in.rows) {
        *reinterpret_cast<uint32_t*>(out) = word;
      } else {
        for (int b = 0; b < 4 && qr + b < in.rows; ++b)
          out[b] = static_cast<int8_t>(byte_at(word, b));
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

unsigned grid_for(int64_t units) {
  return static_cast<unsigned>(std::max<int64_t>(1, std::min(units, kMaxBlocks)));
}

template <typename T, bool kPerTensor>
cudaError_t launch(const QuantizeProblem& p, uint32_t* keys, cudaStream_t stream) {
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
  const Outputs o{static_cast<int8_t*>(p.q.data),
                  p.q.row_stride,
                  aligned(p.q.data, rows > 1 ? p.q.row_stride : 0, 8),
                  static_cast<int8_t*>(p.qt.data),
                  p.qt.row_stride,
                  aligned(p.qt.data, cols > 1 ? p.qt.row_stride : 0, 4),
                  p.scales,
                  p.qt_scales};
  uint32_t* row_keys = keys;
  uint32_t* col_keys = kPerTensor ? keys : keys + rows;
  const cudaError_t err = cudaMemsetAsync(keys, 0, quantize_transpose_workspace_bytes(p), stream);
  if (err != cudaSuccess) return err;
  // Strips as long as still leaves kReduceBlocks blocks: fewer column atomics.
  const int64_t strip = std::clamp<int64_t>(tiles / kReduceBlocks, 1, kMaxStripTiles);
  const int64_t strips = (in.tiles_r + strip - 1) / strip;
  reduce_maxima<T, kPerTensor>
      <<<grid_for(strips * in.tiles_c), kThreads, 0, stream>>>(in, strip, row_keys, col_keys);
  write_both<T, kPerTensor><<<grid_for(tiles), kThreads, 0, stream>>>(in, row_keys, col_keys, o);
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
