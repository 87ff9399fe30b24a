// The float input dtypes of the quantize kernels, widened to float32 (exact).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace gemm_int8::kernels {

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }

}  // namespace gemm_int8::kernels
