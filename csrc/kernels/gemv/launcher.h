// The launcher contracts of the gemv family (csrc/core/cuda_runner.cpp and
// csrc/core/fused_linear_cuda.cpp call them). Torch-free; launchers return
// a Status and never sync.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/epilogue_math.h"
#include "gemm_int8/problem.h"
#include "gemm_int8/status.h"
#include "kernels/launchers.h"

namespace gemm_int8::kernels {

// The GEMM: x int8 (m <= the row's max_m), y int8, 16-byte rows, K % 16 == 0;
// out of any strides.
Status launch_gemv(int row, const DenseGemm& gemm, int64_t out_col_stride, cudaStream_t stream);

// A linear layer on a few float rows, quantized per row inside the kernel:
// x float32, bfloat16 or float16 with 16-byte rows, w int8 (N x K) with
// 16-byte rows, K % 16 == 0, m * k <= gemv::kMaxFusedXBytes; out has x's
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
  int sm_count = 0;
};
Status launch_fused_linear(int row, const FusedLinearArgs& args, cudaStream_t stream);

}  // namespace gemm_int8::kernels
