// The launcher contract of the fused_linear family (csrc/core/fused_linear_cuda.cpp
// calls it). Torch-free; the launcher returns a Status and never syncs.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/epilogue_math.h"
#include "gemm_int8/problem.h"
#include "gemm_int8/status.h"

namespace gemm_int8::kernels {

// A linear layer on a few float rows, quantized per row inside the kernel
// (the fused_linear family, sm_90a): x float32, bfloat16 or float16 with
// 16-byte rows, w int8 (N x K) with 16-byte rows, K % 16 == 0; out has x's
// dtype, rows of pitch ld_out and unit column stride. The epilogue's y_scale
// and float32 bias are used; the kernel supplies x_scale.
struct FusedLinearArgs {
  int m = 0, n = 0, k = 0;
  const void* x = nullptr;
  int64_t ld_x = 0;
  DType x_dtype = DType::kBFloat16;
  const int8_t* w = nullptr;
  int64_t ld_w = 0;
  void* out = nullptr;
  int64_t ld_out = 0;
  EpilogueParams epilogue;
  int device = 0;
  int sm_count = 0;
};
Status launch_fused_linear(int row, const FusedLinearArgs& args, cudaStream_t stream);

}  // namespace gemm_int8::kernels
