// Element-wise helpers the runner uses to adapt operands to a kernel's
// alignment rules. Bandwidth is secondary here: they run only for ragged or
// strided operands, which later issues make fast without staging.
#include <cuda_bf16.h>

#include <string>

#include "kernels/launchers.h"

namespace gemm_int8::kernels {
namespace {

constexpr int kThreads = 256;

int grid_for(int64_t elements) {
  const int64_t blocks = (elements + kThreads - 1) / kThreads;
  return static_cast<int>(blocks < 65535 * 16 ? (blocks > 0 ? blocks : 1) : 65535 * 16);
}

__global__ void stage_int8_kernel(const int8_t* src, int64_t rows, int64_t cols, int64_t rs,
                                  int64_t cs, int8_t* dst, int64_t rows_dst, int64_t ld_dst) {
  const int64_t total = rows_dst * ld_dst;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = i / ld_dst, c = i % ld_dst;
    dst[i] = (r < rows && c < cols) ? src[r * rs + c * cs] : int8_t{0};
  }
}

__global__ void unstage_bf16_kernel(const __nv_bfloat16* src, int64_t ld_src, int64_t rows,
                                    int64_t cols, __nv_bfloat16* dst, int64_t rs, int64_t cs) {
  const int64_t total = rows * cols;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = i / cols, c = i % cols;
    dst[r * rs + c * cs] = src[r * ld_src + c];
  }
}

__global__ void fill_bf16_kernel(__nv_bfloat16* dst, int64_t rows, int64_t cols, int64_t rs,
                                 int64_t cs, float value) {
  const __nv_bfloat16 v = __float2bfloat16_rn(value);
  const int64_t total = rows * cols;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total;
       i += int64_t{gridDim.x} * blockDim.x)
    dst[(i / cols) * rs + (i % cols) * cs] = v;
}

}  // namespace

Status launch_status(const char* kernel) {
  const cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess) return {};
  return Status::cuda_error(std::string(kernel) + ": launch failed: " + cudaGetErrorString(err));
}

Status stage_int8(const MatrixView& src, int8_t* dst, int64_t rows_dst, int64_t ld_dst,
                  cudaStream_t stream) {
  if (rows_dst == 0) return {};
  stage_int8_kernel<<<grid_for(rows_dst * ld_dst), kThreads, 0, stream>>>(
      static_cast<const int8_t*>(src.data), src.rows, src.cols, src.row_stride, src.col_stride, dst,
      rows_dst, ld_dst);
  return launch_status("stage_int8");
}

Status unstage_bf16(const void* src, int64_t ld_src, const MutableMatrixView& dst,
                    cudaStream_t stream) {
  if (dst.rows == 0 || dst.cols == 0) return {};
  unstage_bf16_kernel<<<grid_for(dst.rows * dst.cols), kThreads, 0, stream>>>(
      static_cast<const __nv_bfloat16*>(src), ld_src, dst.rows, dst.cols,
      static_cast<__nv_bfloat16*>(dst.data), dst.row_stride, dst.col_stride);
  return launch_status("unstage_bf16");
}

Status fill_bf16(const MutableMatrixView& dst, float value, cudaStream_t stream) {
  if (dst.rows == 0 || dst.cols == 0) return {};
  fill_bf16_kernel<<<grid_for(dst.rows * dst.cols), kThreads, 0, stream>>>(
      static_cast<__nv_bfloat16*>(dst.data), dst.rows, dst.cols, dst.row_stride, dst.col_stride,
      value);
  return launch_status("fill_bf16");
}

}  // namespace gemm_int8::kernels
