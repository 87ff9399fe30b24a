// The contract between the CUDA runner (csrc/core/cuda_runner.cpp) and the
// kernels. Torch-free; every launcher returns a Status and never syncs.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "gemm_int8/problem.h"
#include "gemm_int8/status.h"

namespace gemm_int8::kernels {

// A problem the tensor-core kernels run as is: row-major int8 x (M x K) and
// y (N x K) with K % 16 == 0, leading dimensions % 16 == 0 and 16-byte
// aligned bases; row-major bfloat16 out with N % 8 == 0, ld_out % 8 == 0 and
// a 16-byte aligned base.
struct DenseGemm {
  int m = 0, n = 0, k = 0;
  const int8_t* x = nullptr;
  int64_t ld_x = 0;
  const int8_t* y = nullptr;
  int64_t ld_y = 0;
  void* out = nullptr;
  int64_t ld_out = 0;
  float alpha = 1.0f;
  int device = 0;  // CUDA ordinal, for kernels that size persistent grids
  int sm_count = 0;
};
constexpr int kDenseAlignK = 16;  // int8 elements per 16-byte access
constexpr int kDenseAlignN = 8;   // bfloat16 elements per 16-byte access

// cudaSuccess if this build has code the current device can run for the
// family; cudaErrorNoKernelImageForDevice (or another error) otherwise.
cudaError_t probe_simt();
cudaError_t probe_sm80();
cudaError_t probe_sm90();

// Any strides, any shape: the fallback and the pre-sm80 path.
Status launch_simt(const GemmProblem& problem, cudaStream_t stream);
Status launch_sm80(int row, const DenseGemm& gemm, cudaStream_t stream);
// Small M: x and y as for DenseGemm except that N may be anything; out may
// have any strides (ld_out is its row stride, in elements). Compiled with the
// sm80 family's flags; probe_sm80 answers for it.
Status launch_skinny(int row, const DenseGemm& gemm, int64_t out_col_stride, cudaStream_t stream);
// sm90 rows may need workspace (stream-K partial sums); the size depends on
// the shape and the SM count only.
size_t sm90_workspace_size(int row, const DenseGemm& gemm);
Status launch_sm90(int row, const DenseGemm& gemm, void* workspace, cudaStream_t stream);

// Staging: copy a strided int8 view into a dense (rows_dst x ld_dst) buffer,
// zero-filling columns [cols, ld_dst) and rows [rows, rows_dst).
Status stage_int8(const MatrixView& src, int8_t* dst, int64_t rows_dst, int64_t ld_dst,
                  cudaStream_t stream);
// Copy a dense bfloat16 (rows x cols, leading dim ld_src) buffer to a strided view.
Status unstage_bf16(const void* src, int64_t ld_src, const MutableMatrixView& dst,
                    cudaStream_t stream);
// Fill a view with bfloat16(value).
Status fill_bf16(const MutableMatrixView& dst, float value, cudaStream_t stream);

// Turns the last launch error into a Status naming the kernel.
Status launch_status(const char* kernel);

}  // namespace gemm_int8::kernels
