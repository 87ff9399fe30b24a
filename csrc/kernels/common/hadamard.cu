// hadamard_cuda and quantize_cuda's rotated rows (QuantizeProblem::hadamard):
// one CTA per row; the row is widened to float32 in shared memory, rotated
// there with the operation order of hadamard.h (so the CPU path gives the
// same bits), then stored in out's dtype or quantized per row.
//
// Cost per element: log2(p) butterflies plus m additions (the dense factor;
// 28 for 14336-wide rows), on shared memory. No tensor cores yet.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <string>
#include <type_traits>

#include "core/hadamard_signs.h"
#include "core/quantize_math.h"
#include "gemm_int8/hadamard_cuda.h"
#include "gemm_int8/quantize_cuda.h"
#include "kernels/common/float_inputs.cuh"
#include "kernels/common/out_types.cuh"
#include "kernels/common/quantize_vectors.cuh"
#include "kernels/common/shared_memory_limit.h"

namespace gemm_int8 {
namespace {

using kernels::block_reduce;
using kernels::round_to;
using kernels::to_float;
using kernels::with_float_type;

constexpr int kThreads = 512;

struct Rotation {
  int log2_p;
  float norm;
};

constexpr int kGroupBits = 4;  // butterfly stages per pass through shared memory
constexpr int kGroup = 1 << kGroupBits;

// The butterflies of `bits` consecutive stages on a group of 2^bits values
// that differ only in those index bits (v[j] is the value at local index j),
// in stage order: the same additions as stage-by-stage over the whole row.
__device__ __forceinline__ void group_butterflies(float (&v)[kGroup], int bits) {
#pragma unroll
  for (int b = 0; b < kGroupBits; ++b) {
    if (b >= bits) break;
#pragma unroll
    for (int j = 0; j < kGroup; ++j) {
      if ((j >> b) & 1) continue;
      const float u = v[j], w = v[j + (1 << b)];
      v[j] = __fadd_rn(u, w);
      v[j + (1 << b)] = __fsub_rn(u, w);
    }
  }
}

// Loads row r of x into buf and rotates it, except for the final multiply by
// rot.norm that the callers apply as they read buf (hadamard.h's order of
// operations); every thread of the CTA takes part.
//
// The log2(p) butterfly stages run kGroupBits at a time in registers: the
// first group as x is loaded (16 contiguous values per thread), each later
// one as a pass over shared memory whose threads take consecutive groups
// along the lowest index bits (conflict-free banks from a stride of 32 up).
// Against one stage per pass (H200, docs/performance.md "Hadamard rotation"):
// 1.7x faster at n = 4096, 1.15-1.2x slower at 8192 and 14336, where the
// per-thread contiguous loads of x (16 scalar loads 32 bytes apart across a
// warp) cost more than the saved passes; next: load x coalesced first.
template <int M, typename T>
__device__ void load_and_rotate(const T* __restrict__ x, int64_t ldx, int64_t x_col_stride,
                                int64_t r, const Rotation& rot, float* buf) {
  const int p = 1 << rot.log2_p, n = M * p;
  const T* row = x + r * ldx;
  int done = 0;  // butterfly stages applied
  if (rot.log2_p >= kGroupBits) {
    for (int base = threadIdx.x * kGroup; base < n; base += blockDim.x * kGroup) {
      float v[kGroup];
#pragma unroll
      for (int j = 0; j < kGroup; ++j) v[j] = to_float(row[int64_t{base + j} * x_col_stride]);
      group_butterflies(v, kGroupBits);
#pragma unroll
      for (int j = 0; j < kGroup; j += 4)
        *reinterpret_cast<float4*>(buf + base + j) =
            make_float4(v[j], v[j + 1], v[j + 2], v[j + 3]);
    }
    done = kGroupBits;
  } else {
    for (int c = threadIdx.x; c < n; c += blockDim.x)
      buf[c] = to_float(row[int64_t{c} * x_col_stride]);
  }
  __syncthreads();
  while (done < rot.log2_p) {
    const int bits = min(kGroupBits, rot.log2_p - done), size = 1 << bits;
    const int stride = 1 << done;
    for (int q = threadIdx.x; q < n >> bits; q += blockDim.x) {
      const int low = q & (stride - 1), high = q >> done;
      const int base = (high << (done + bits)) + low;
      float v[kGroup];
#pragma unroll
      for (int j = 0; j < kGroup; ++j)
        if (j < size) v[j] = buf[base + j * stride];
      group_butterflies(v, bits);
#pragma unroll
      for (int j = 0; j < kGroup; ++j)
        if (j < size) buf[base + j * stride] = v[j];
    }
    done += bits;
    __syncthreads();
  }
  if constexpr (M > 1) {
    for (int b = threadIdx.x; b < p; b += blockDim.x) {
      float column[M];
#pragma unroll
      for (int a = 0; a < M; ++a) column[a] = buf[a * p + b];
#pragma unroll
      for (int out = 0; out < M; ++out) {
        // Compile-time signs (M and out are constants): one add or subtract per term.
        const uint32_t signs = hadamard_sign_row(M, out);
        float sum = 0.0f;
#pragma unroll
        for (int a = 0; a < M; ++a)
          sum = (signs >> a) & 1 ? __fsub_rn(sum, column[a]) : __fadd_rn(sum, column[a]);
        buf[out * p + b] = sum;
      }
    }
    __syncthreads();
  }
}

template <int M, typename T, typename Out>
__global__ void __launch_bounds__(kThreads)
    rotate_rows(const T* __restrict__ x, int64_t ldx, int64_t x_col_stride, Out* __restrict__ out,
                int64_t ld_out, int64_t out_col_stride, int64_t rows, const Rotation rot) {
  extern __shared__ float buf[];
  const int n = M << rot.log2_p;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    load_and_rotate<M>(x, ldx, x_col_stride, r, rot, buf);
    for (int c = threadIdx.x; c < n; c += blockDim.x)
      out[r * ld_out + int64_t{c} * out_col_stride] = round_to<Out>(__fmul_rn(buf[c], rot.norm));
    __syncthreads();  // buf is reused by the next row
  }
}

template <int M, typename T, bool kAsymmetric>
__global__ void __launch_bounds__(kThreads)
    quantize_rotated_rows(const T* __restrict__ x, int64_t ldx, int64_t x_col_stride,
                          int8_t* __restrict__ q, int64_t ldq, int64_t rows, float* scales,
                          int32_t* zero_points, const Rotation rot) {
  extern __shared__ float buf[];
  __shared__ QuantStats shared[33];
  const int n = M << rot.log2_p;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    load_and_rotate<M>(x, ldx, x_col_stride, r, rot, buf);
    QuantStats s;
    for (int c = threadIdx.x; c < n; c += blockDim.x)
      s.add<kAsymmetric>(__fmul_rn(buf[c], rot.norm));
    const QuantParams p = quant_params<kAsymmetric>(block_reduce(s, shared));
    if (threadIdx.x == 0) {
      scales[r] = p.scale;
      if (kAsymmetric) zero_points[r] = p.zero_point;
    }
    for (int c = threadIdx.x; c < n; c += blockDim.x)
      q[r * ldq + c] = quantize_value<kAsymmetric>(__fmul_rn(buf[c], rot.norm), p);
    __syncthreads();  // buf is reused by the next row
  }
}

Status launch_error(const char* what, cudaError_t err) {
  return Status::cuda_error(std::string(what) +
                            ": kernel launch failed: " + cudaGetErrorString(err));
}

// Runs launch(kernel_for_M, rotation, shared_bytes) for x's row length.
template <class Launch>
Status with_rotation(int64_t n, const char* what, Launch&& launch) {
  HadamardSize size;
  GEMM_INT8_RETURN_IF_ERROR(hadamard_size(n, &size));
  const Rotation rot{size.log2_p, size.norm};
  const size_t bytes = static_cast<size_t>(n) * sizeof(float);
  cudaError_t err;
  switch (size.m) {
    case 12: err = launch(std::integral_constant<int, 12>{}, rot, bytes); break;
    case 20: err = launch(std::integral_constant<int, 20>{}, rot, bytes); break;
    case 28: err = launch(std::integral_constant<int, 28>{}, rot, bytes); break;
    default: err = launch(std::integral_constant<int, 1>{}, rot, bytes);
  }
  return err == cudaSuccess ? Status{} : launch_error(what, err);
}

// Rows above 48 KB of float32 need the kernel's shared-memory limit raised:
// once per device, to what the longest row needs.
template <auto Kernel, typename... Args>
cudaError_t launch_rows(int device, int64_t rows, size_t bytes, cudaStream_t stream,
                        const Args&... args) {
  if (bytes > 48 * 1024) {
    const cudaError_t err = kernels::raise_shared_memory_limit_once<Kernel>(
        device, static_cast<int>(kMaxHadamardSize * sizeof(float)));
    if (err != cudaSuccess) return err;
  }
  const auto grid = static_cast<unsigned>(rows < (int64_t{1} << 20) ? rows : int64_t{1} << 20);
  Kernel<<<grid, kThreads, bytes, stream>>>(args...);
  return cudaGetLastError();
}

template <typename T>
const T* input(const MatrixView& v) {
  return static_cast<const T*>(v.data);
}

}  // namespace

Status hadamard_cuda(const HadamardProblem& p, cudaStream_t stream) {
  GEMM_INT8_RETURN_IF_ERROR(validate_hadamard(p));
  if (p.x.device.kind != Device::Kind::kCuda)
    return Status::value_error("x: hadamard_cuda needs device memory");
  if (p.x.rows == 0) return {};
  return with_float_type(p.x.dtype, [&](auto in_type) {
    using T = decltype(in_type);
    return with_float_type(p.out.dtype, [&](auto out_type) {
      using Out = decltype(out_type);
      return with_rotation(p.x.cols, "hadamard", [&](auto m, const Rotation& rot, size_t bytes) {
        return launch_rows<rotate_rows<decltype(m)::value, T, Out>>(
            p.x.device.index, p.x.rows, bytes, stream, input<T>(p.x), p.x.row_stride,
            p.x.col_stride, static_cast<Out*>(p.out.data), p.out.row_stride, p.out.col_stride,
            p.x.rows, rot);
      });
    });
  });
}

namespace kernels {

// A validated kRow problem with `hadamard` set.
Status quantize_rotated_cuda(const QuantizeProblem& p, cudaStream_t stream) {
  if (p.x.rows == 0) return {};
  return with_float_type(p.x.dtype, [&](auto in_type) {
    using T = decltype(in_type);
    return with_rotation(p.x.cols, "quantize", [&](auto m, const Rotation& rot, size_t bytes) {
      constexpr int M = decltype(m)::value;
      auto* q = static_cast<int8_t*>(p.q.data);
      if (p.asymmetric)
        return launch_rows<quantize_rotated_rows<M, T, true>>(
            p.x.device.index, p.x.rows, bytes, stream, input<T>(p.x), p.x.row_stride,
            p.x.col_stride, q, p.q.row_stride, p.x.rows, p.scales, p.zero_points, rot);
      return launch_rows<quantize_rotated_rows<M, T, false>>(
          p.x.device.index, p.x.rows, bytes, stream, input<T>(p.x), p.x.row_stride, p.x.col_stride,
          q, p.q.row_stride, p.x.rows, p.scales, p.zero_points, rot);
    });
  });
}

}  // namespace kernels
}  // namespace gemm_int8
