// The contract between the CUDA runner (csrc/core/cuda_runner.cpp) and the
// kernels. Torch-free; every launcher returns a Status and never syncs.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/epilogue_math.h"
#include "gemm_int8/problem.h"
#include "gemm_int8/staging.h"
#include "gemm_int8/status.h"

namespace gemm_int8::kernels {

// A problem the tensor-core kernels run as is: row-major int8 x (M x K) and
// y (N x K) with K % 16 == 0, leading dimensions % 16 == 0 and 16-byte
// aligned bases; row-major out (bfloat16, float16, float32 or int32) with
// 16-byte rows (N % 8 == 0 on sm80, whose y is padded) and a 16-byte aligned
// base, unless the row writes rows of any pitch.
struct DenseGemm {
  int m = 0, n = 0, k = 0;
  // Columns whose per-column epilogue values exist (the real N, where sm80
  // pads n to 8); 0 means n.
  int n_valid = 0;
  const int8_t* x = nullptr;
  int64_t ld_x = 0;
  const int8_t* y = nullptr;
  int64_t ld_y = 0;
  void* out = nullptr;
  int64_t ld_out = 0;
  DType out_dtype = DType::kBFloat16;
  EpilogueParams epilogue;
  int device = 0;  // CUDA ordinal, for kernels that size persistent grids
  int sm_count = 0;
};

// The output dtypes every family instantiates, in the order of their
// registries' columns.
constexpr DType kOutDtypes[] = {DType::kBFloat16, DType::kFloat16, DType::kFloat32, DType::kInt32};
constexpr int kNumOutDtypes = 4;
inline int out_dtype_index(DType dtype) {
  for (int i = 0; i < kNumOutDtypes; ++i)
    if (kOutDtypes[i] == dtype) return i;
  return -1;
}

// cudaSuccess if this build has code the current device can run for the
// family; cudaErrorNoKernelImageForDevice (or another error) otherwise.
cudaError_t probe_simt();
cudaError_t probe_sm80();
cudaError_t probe_sm90();

// Any strides, any shape: the fallback and the pre-sm80 path.
Status launch_simt(const GemmProblem& problem, const EpilogueParams& epilogue, cudaStream_t stream);
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
// Copy a dense (rows x cols, leading dim ld_src) buffer of dst's dtype to the
// strided view dst.
Status unstage_out(const void* src, int64_t ld_src, const MutableMatrixView& dst,
                   cudaStream_t stream);
// out[m, n] = epilogue(0, m, n): the result of an empty reduction (K = 0).
Status fill_epilogue(const MutableMatrixView& dst, const EpilogueParams& epilogue,
                     cudaStream_t stream);
// A bfloat16 or float16 bias widened (exactly) to float32.
Status widen_to_float(const VectorView& src, float* dst, cudaStream_t stream);

// Turns the last launch error into a Status naming the kernel.
Status launch_status(const char* kernel);

}  // namespace gemm_int8::kernels
