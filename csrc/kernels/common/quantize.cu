// quantize_cuda: float -> int8 with the rule of quantize.h (the arithmetic
// lives in core/quantize_math.h, shared with the CPU path).
//
// Row granularity (per token) is one CTA per row and a single read of x:
// rows of 16-byte-aligned vectors up to 2048 vectors (16384 bf16 values) are
// held in registers between the max and the stores; longer rows are read
// twice (the second read hits L2) and unaligned or strided rows take scalar
// loads. Tensor and column granularity reduce into workspace with atomics on
// order-preserving integer keys (so the result does not depend on the order
// of the atomics), finalize the scales on the device and then quantize: x is
// read twice, and nothing comes back to the host.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "core/device_info.h"
#include "core/quantize_math.h"
#include "gemm_int8/quantize_cuda.h"
#include "kernels/common/float_inputs.cuh"
#include "kernels/common/pdl.cuh"
#include "kernels/common/quantize_transpose.h"
#include "kernels/common/quantize_vectors.cuh"

namespace gemm_int8 {
namespace {

using kernels::add_vector;
using kernels::block_reduce;
using kernels::pdl_allow_next;
using kernels::pdl_launch;
using kernels::pdl_wait;
using kernels::quantize_vector;
using kernels::to_float;
using kernels::warp_merge;

constexpr int kThreads = 256;
constexpr int kFewRows = 64;
constexpr int kFewRowsThreads = 1024;
constexpr int kManyRowsVecs = 4;
constexpr int kMaxRegisterVecs = 8;
constexpr int64_t kMaxBlocks = 65535;
constexpr int kRowsPerColumnChunk = 32;

__device__ __forceinline__ void write_params(const QuantParams& p, int64_t g, float* scales,
                                             int32_t* zero_points) {
  scales[g] = p.scale;
  if (zero_points) zero_points[g] = p.zero_point;
}

// One row per CTA, held in registers: kVecs 16-byte vectors per thread.
// (A grid of resident CTAs looping over rows and loading the next row before
// reducing the current one was slower on the H200: 61 % of copy bandwidth
// against 76 % at 8192 x 8192 bf16; docs/performance.md.)
template <typename T, int kVecs, bool kAsymmetric, int kMaxThreads>
__global__ void __launch_bounds__(kMaxThreads)
    rows_in_registers(const T* __restrict__ x, int64_t ldx, int8_t* __restrict__ q, int64_t ldq,
                      int64_t rows, int64_t cols, float* scales, int32_t* zero_points) {
  constexpr int kElems = 16 / sizeof(T);
  __shared__ QuantStats shared[33];
  const int64_t vecs = cols / kElems;
  pdl_allow_next();
  pdl_wait();
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const auto* row = reinterpret_cast<const int4*>(x + r * ldx);
    int4 v[kVecs] = {};
    QuantStats s;
#pragma unroll
    for (int i = 0; i < kVecs; ++i) {
      const int64_t j = threadIdx.x + int64_t{i} * blockDim.x;
      if (j < vecs) v[i] = __ldcs(row + j);  // read once: stream past the cache
    }
#pragma unroll
    for (int i = 0; i < kVecs; ++i)
      if (threadIdx.x + int64_t{i} * blockDim.x < vecs) add_vector<T, kAsymmetric>(s, v[i]);
    const QuantParams p = quant_params<kAsymmetric>(block_reduce(s, shared));
    if (threadIdx.x == 0) write_params(p, r, scales, zero_points);
    // The row's parameters pick the rounding once: per element, no branch.
    const bool finite = !kAsymmetric && p.inv_scale != 0.0f;
#pragma unroll
    for (int i = 0; i < kVecs; ++i) {
      const int64_t j = threadIdx.x + int64_t{i} * blockDim.x;
      if (j >= vecs) continue;
      if (finite) {
        quantize_vector<T, false, true>(v[i], p, q + r * ldq + j * kElems);
      } else {
        quantize_vector<T, kAsymmetric>(v[i], p, q + r * ldq + j * kElems);
      }
    }
  }
}

// One row per CTA, read twice: rows too long for registers (kVector) or not
// readable as aligned 16-byte vectors.
template <typename T, bool kVector, bool kAsymmetric>
__global__ void __launch_bounds__(kThreads)
    rows_two_pass(const T* __restrict__ x, int64_t ldx, int64_t x_col_stride,
                  int8_t* __restrict__ q, int64_t ldq, int64_t rows, int64_t cols, float* scales,
                  int32_t* zero_points) {
  constexpr int kElems = 16 / sizeof(T);
  __shared__ QuantStats shared[33];
  pdl_allow_next();
  pdl_wait();
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* row = x + r * ldx;
    QuantStats s;
    if (kVector) {
      for (int64_t j = threadIdx.x; j < cols / kElems; j += blockDim.x)
        add_vector<T, kAsymmetric>(s, reinterpret_cast<const int4*>(row)[j]);
    } else {
      for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
        s.add<kAsymmetric>(to_float(row[c * x_col_stride]));
    }
    const QuantParams p = quant_params<kAsymmetric>(block_reduce(s, shared));
    if (threadIdx.x == 0) write_params(p, r, scales, zero_points);
    if (kVector) {
      for (int64_t j = threadIdx.x; j < cols / kElems; j += blockDim.x)
        quantize_vector<T, kAsymmetric>(reinterpret_cast<const int4*>(row)[j], p,
                                        q + r * ldq + j * kElems);
    } else {
      for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
        q[r * ldq + c] = quantize_value<kAsymmetric>(to_float(row[c * x_col_stride]), p);
    }
  }
}

// Float <-> unsigned key with a < b  =>  key(a) < key(b); NaN becomes +NaN,
// the largest key. Key 0 (never produced by a group's hi >= 0 or ~key(lo <= 0))
// marks a group no element reached.
__device__ __forceinline__ uint32_t order_key(float v) {
  const uint32_t b = v != v ? 0x7fc00000u : __float_as_uint(v);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}
__device__ __forceinline__ float from_key(uint32_t k) {
  return __uint_as_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}
__device__ __forceinline__ void publish(uint32_t* keys, const QuantStats& s) {
  atomicMax(keys, order_key(s.hi));
  atomicMax(keys + 1, ~order_key(s.lo));
}

template <typename T, bool kAsymmetric>
__global__ void __launch_bounds__(kThreads)
    reduce_tensor(const T* __restrict__ x, int64_t ldx, int64_t x_col_stride, int64_t rows,
                  int64_t cols, uint32_t* keys) {
  __shared__ QuantStats shared[33];
  QuantStats s;
  const int64_t count = rows * cols;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x)
    s.add<kAsymmetric>(to_float(x[(i / cols) * ldx + (i % cols) * x_col_stride]));
  s = block_reduce(s, shared);
  if (threadIdx.x == 0) publish(keys, s);
}

// Threads across columns (coalesced for row-major x), CTAs down chunks of rows.
template <typename T, bool kAsymmetric>
__global__ void __launch_bounds__(kThreads)
    reduce_cols(const T* __restrict__ x, int64_t ldx, int64_t x_col_stride, int64_t rows,
                int64_t cols, uint32_t* keys) {
  const int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (c >= cols) return;
  for (int64_t r0 = blockIdx.y * int64_t{kRowsPerColumnChunk}; r0 < rows;
       r0 += int64_t{gridDim.y} * kRowsPerColumnChunk) {
    QuantStats s;
    const int64_t end = r0 + kRowsPerColumnChunk < rows ? r0 + kRowsPerColumnChunk : rows;
    for (int64_t r = r0; r < end; ++r) s.add<kAsymmetric>(to_float(x[r * ldx + c * x_col_stride]));
    publish(keys + 2 * c, s);
  }
}

template <bool kAsymmetric>
__global__ void finalize(const uint32_t* keys, int64_t groups, float* scales,
                         int32_t* zero_points) {
  for (int64_t g = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; g < groups;
       g += int64_t{gridDim.x} * blockDim.x) {
    QuantStats s;
    if (keys[2 * g]) s.hi = from_key(keys[2 * g]);
    if (keys[2 * g + 1]) s.lo = from_key(~keys[2 * g + 1]);
    write_params(quant_params<kAsymmetric>(s), g, scales, zero_points);
  }
}

// Elementwise with the finished parameters; `per_row` / `per_col` pick the group.
template <typename T, bool kAsymmetric>
__global__ void __launch_bounds__(kThreads)
    apply(const T* __restrict__ x, int64_t ldx, int64_t x_col_stride, int8_t* __restrict__ q,
          int64_t ldq, int64_t rows, int64_t cols, bool per_col, const float* scales,
          const int32_t* zero_points) {
  const int64_t count = rows * cols;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = i / cols, c = i % cols, g = per_col ? c : 0;
    // One division per element: a reciprocal per element would cost as much.
    const QuantParams p{scales[g], kAsymmetric ? zero_points[g] : 0};
    q[r * ldq + c] = quantize_value<kAsymmetric>(to_float(x[r * ldx + c * x_col_stride]), p);
  }
}

unsigned blocks_for(int64_t units, int64_t per_block) {
  return static_cast<unsigned>(
      std::max<int64_t>(1, std::min(kMaxBlocks, (units + per_block - 1) / per_block)));
}

// Whole rows as aligned 16-byte vectors of x and kElems-byte stores of q.
template <typename T>
bool rows_vectorizable(const QuantizeProblem& p) {
  constexpr int64_t kElems = 16 / sizeof(T);
  const bool multi = p.x.rows > 1;
  return p.x.col_stride == 1 && p.x.cols % kElems == 0 &&
         reinterpret_cast<uintptr_t>(p.x.data) % 16 == 0 &&
         (!multi || p.x.row_stride % kElems == 0) &&
         reinterpret_cast<uintptr_t>(p.q.data) % kElems == 0 &&
         (!multi || p.q.row_stride % kElems == 0);
}

// rows_in_registers with kVecs vectors per thread, or twice as many for rows
// longer than kMaxThreads * kVecs vectors (the callers' rows are at most
// kThreads * kMaxRegisterVecs long, which both choices below cover).
template <typename T, bool kAsymmetric, int kMaxThreads, int kVecs>
cudaError_t launch_rows_in_registers(const QuantizeProblem& p, int64_t vecs, unsigned blocks,
                                     cudaStream_t stream) {
  static_assert(2 * kVecs * kMaxThreads >= kThreads * kMaxRegisterVecs);
  const bool doubled = vecs > int64_t{kMaxThreads} * kVecs;
  const int64_t per_thread = doubled ? 2 * kVecs : kVecs;
  const int64_t needed = (vecs + per_thread - 1) / per_thread;
  const auto threads = static_cast<unsigned>(std::max<int64_t>(32, (needed + 31) / 32 * 32));
  auto run = [&](auto kernel) {
    return pdl_launch(kernel, blocks, threads, 0, stream, static_cast<const T*>(p.x.data),
                      p.x.row_stride, static_cast<int8_t*>(p.q.data), p.q.row_stride, p.x.rows,
                      p.x.cols, p.scales, p.zero_points);
  };
  return doubled ? run(rows_in_registers<T, 2 * kVecs, kAsymmetric, kMaxThreads>)
                 : run(rows_in_registers<T, kVecs, kAsymmetric, kMaxThreads>);
}

// Row kernels launch dependent-style (kernels/common/pdl.cuh): in decode, a
// GEMM that reads their output is launched while they run.
template <typename T, bool kAsymmetric>
cudaError_t launch_rows(const QuantizeProblem& p, cudaStream_t stream) {
  const T* x = static_cast<const T*>(p.x.data);
  auto* q = static_cast<int8_t*>(p.q.data);
  const int64_t rows = p.x.rows, cols = p.x.cols;
  const auto blocks = static_cast<unsigned>(std::min<int64_t>(rows, int64_t{1} << 20));
  const int64_t vecs = cols / (16 / sizeof(T));
  if (!rows_vectorizable<T>(p)) {
    return pdl_launch(rows_two_pass<T, false, kAsymmetric>, blocks, kThreads, 0, stream, x,
                      p.x.row_stride, p.x.col_stride, q, p.q.row_stride, rows, cols, p.scales,
                      p.zero_points);
  }
  if (vecs > int64_t{kThreads} * kMaxRegisterVecs) {
    return pdl_launch(rows_two_pass<T, true, kAsymmetric>, blocks, kThreads, 0, stream, x,
                      p.x.row_stride, int64_t{1}, q, p.q.row_stride, rows, cols, p.scales,
                      p.zero_points);
  }
  // Decode-sized inputs (a few rows, one CTA each) are latency: up to
  // kFewRowsThreads threads per row, so each does the least serial work
  // (H200: 1 x 14336 bf16 2.25 us vs 2.87 with 224 threads of 8 vectors;
  // docs/performance.md). Many rows keep kThreads, and at least four
  // vectors a thread: more rows per SM in flight (2048 x 4096 bf16 8.2 us
  // vs 9.2 with 256 threads of two).
  if (rows <= kFewRows)
    return launch_rows_in_registers<T, kAsymmetric, kFewRowsThreads, 1>(p, vecs, blocks, stream);
  return launch_rows_in_registers<T, kAsymmetric, kThreads, kManyRowsVecs>(p, vecs, blocks, stream);
}

template <typename T, bool kAsymmetric>
Status launch(const QuantizeProblem& p, uint32_t* keys, cudaStream_t stream) {
  const int64_t rows = p.x.rows, cols = p.x.cols, groups = quantize_groups(p);
  if (p.granularity == Granularity::kRow) {
    const cudaError_t err = rows > 0 ? launch_rows<T, kAsymmetric>(p, stream) : cudaSuccess;
    if (err != cudaSuccess)
      return Status::cuda_error(std::string("quantize: kernel launch failed: ") +
                                cudaGetErrorString(err));
    return {};
  }
  const T* x = static_cast<const T*>(p.x.data);
  const cudaError_t err = cudaMemsetAsync(keys, 0, static_cast<size_t>(groups) * 8, stream);
  if (err != cudaSuccess)
    return Status::cuda_error(std::string("quantize: clearing workspace failed: ") +
                              cudaGetErrorString(err));
  const int64_t count = rows * cols;
  if (count > 0 && p.granularity == Granularity::kTensor) {
    reduce_tensor<T, kAsymmetric><<<blocks_for(count, kThreads * 16), kThreads, 0, stream>>>(
        x, p.x.row_stride, p.x.col_stride, rows, cols, keys);
  } else if (count > 0) {
    const dim3 grid(static_cast<unsigned>((cols + kThreads - 1) / kThreads),
                    blocks_for(rows, kRowsPerColumnChunk));
    reduce_cols<T, kAsymmetric>
        <<<grid, kThreads, 0, stream>>>(x, p.x.row_stride, p.x.col_stride, rows, cols, keys);
  }
  finalize<kAsymmetric><<<blocks_for(groups, kThreads), kThreads, 0, stream>>>(
      keys, groups, p.scales, p.zero_points);
  if (count > 0)
    apply<T, kAsymmetric><<<blocks_for(count, kThreads * 4), kThreads, 0, stream>>>(
        x, p.x.row_stride, p.x.col_stride, static_cast<int8_t*>(p.q.data), p.q.row_stride, rows,
        cols, p.granularity == Granularity::kCol, p.scales, p.zero_points);
  return {};
}

template <bool kAsymmetric>
Status dispatch(const QuantizeProblem& p, uint32_t* keys, cudaStream_t stream) {
  return kernels::with_float_type(
      p.x.dtype, [&](auto t) { return launch<decltype(t), kAsymmetric>(p, keys, stream); });
}

Status plain(const QuantizeProblem& p, uint32_t* keys, cudaStream_t stream) {
  GEMM_INT8_RETURN_IF_ERROR(p.asymmetric ? dispatch<true>(p, keys, stream)
                                         : dispatch<false>(p, keys, stream));
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess)
    return Status::cuda_error(std::string("quantize: kernel launch failed: ") +
                              cudaGetErrorString(err));
  return {};
}

}  // namespace

size_t quantize_cuda_workspace_bytes(const QuantizeProblem& problem) {
  if (problem.transpose) return kernels::quantize_transpose_workspace_bytes(problem);
  if (problem.granularity == Granularity::kRow) return 0;
  return static_cast<size_t>(quantize_groups(problem)) * 2 * sizeof(uint32_t);
}

Status quantize_cuda(const QuantizeProblem& problem, void* workspace, size_t workspace_bytes,
                     cudaStream_t stream) {
  GEMM_INT8_RETURN_IF_ERROR(validate_quantize(problem));
  if (problem.x.device.kind != Device::Kind::kCuda)
    return Status::value_error("x: quantize_cuda needs device memory");
  const size_t needed = quantize_cuda_workspace_bytes(problem);
  if (workspace_bytes < needed || (needed > 0 && workspace == nullptr))
    return Status::value_error("workspace: expected at least " + std::to_string(needed) +
                               " bytes, got " + std::to_string(workspace_bytes));
  if (reinterpret_cast<uintptr_t>(workspace) % sizeof(uint32_t) != 0)
    return Status::value_error("workspace: data pointer is not 4-byte aligned");
  auto* keys = static_cast<uint32_t*>(workspace);
  if (problem.transpose) {
    DeviceInfo device;
    GEMM_INT8_RETURN_IF_ERROR(device_info(problem.x.device.index, &device));
    if (kernels::quantize_transpose_fits(problem, device))
      return kernels::quantize_transpose_cuda(problem, device, keys, stream);
    // A GPU without the shared memory (float32 x on sm_75): q, then qt as
    // the plain quantization of x's transposed view, as the CPU path does.
    QuantizeProblem q_part = problem;
    q_part.transpose = false;
    GEMM_INT8_RETURN_IF_ERROR(plain(q_part, keys, stream));
    return plain(transposed_part(problem), keys, stream);
  }
  if (problem.hadamard) return kernels::quantize_rotated_cuda(problem, stream);
  return plain(problem, keys, stream);
}

}  // namespace gemm_int8
