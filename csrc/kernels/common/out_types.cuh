// The output dtypes as CUDA types, and the one epilogue step the
// hand-written kernels share: accumulator -> stored value.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <type_traits>

#include "core/epilogue_math.h"
#include "kernels/launchers.h"

namespace gemm_int8::kernels {

template <class Out>
__device__ __forceinline__ Out round_to(float value) {
  if constexpr (std::is_same_v<Out, __nv_bfloat16>)
    return __float2bfloat16_rn(value);
  else if constexpr (std::is_same_v<Out, __half>)
    return __float2half_rn(value);
  else
    return value;
}

// int32 out is the exact (zero-point corrected) accumulator; the others
// round the float32 epilogue value once.
template <class Out>
__device__ __forceinline__ Out epilogue_out(const EpilogueParams& e, int32_t acc, int64_t m,
                                            int64_t n) {
  if constexpr (std::is_same_v<Out, int32_t>)
    return e.corrected(acc, m, n);
  else
    return round_to<Out>(e.apply(acc, m, n));
}

// Calls fn(Out{}) with the CUDA type of `dtype` (one of kOutDtypes).
template <class Fn>
Status with_out_type(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::kBFloat16: return fn(__nv_bfloat16{});
    case DType::kFloat16: return fn(__half{});
    case DType::kFloat32: return fn(float{});
    case DType::kInt32: return fn(int32_t{});
    default: return Status::type_error("out: no kernel for this output dtype");
  }
}

}  // namespace gemm_int8::kernels
