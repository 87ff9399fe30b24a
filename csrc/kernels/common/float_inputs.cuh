// The float input dtypes of the quantize, Hadamard and fused-linear kernels,
// widened to float32 (exact), and the one switch from a DType to its CUDA type.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "gemm_int8/problem.h"

namespace gemm_int8::kernels {

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }

// f(T{}) for the CUDA type T of a float32, bfloat16 or float16 `dtype`
// (validated by the caller: any other dtype is taken as float16).
template <typename F>
auto with_float_type(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kFloat32: return f(float{});
    case DType::kBFloat16: return f(__nv_bfloat16{});
    default: return f(__half{});
  }
}

}  // namespace gemm_int8::kernels
