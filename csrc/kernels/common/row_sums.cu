// row_sums_cuda: exact int32 row sums of an int8 matrix (the y_sums operand).
// Rows with unit column stride: one warp per row, 16-byte loads between an
// unaligned head and tail. Other layouts (e.g. transposed y): one thread per
// row, so a warp reads 32 neighbouring bytes of each column together.
#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "gemm_int8/row_sums_cuda.h"

namespace gemm_int8 {
namespace {

constexpr int kThreads = 256;
constexpr int kWarpsPerBlock = kThreads / 32;
constexpr int64_t kMaxBlocks = 65535;

__device__ __forceinline__ int32_t byte_sum(uint32_t word) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 610
  return __dp4a(static_cast<int>(word), 0x01010101, 0);
#else
  int32_t sum = 0;
  for (int i = 0; i < 4; ++i) sum += static_cast<int8_t>(word >> (8 * i));
  return sum;
#endif
}

__global__ void row_sums_warp_per_row(const int8_t* __restrict__ y, int64_t rows, int64_t cols,
                                      int64_t row_stride, int32_t* __restrict__ out) {
  const int lane = threadIdx.x % 32;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  for (int64_t r = first; r < rows; r += static_cast<int64_t>(gridDim.x) * kWarpsPerBlock) {
    const int8_t* row = y + r * row_stride;
    // Bytes before the first 16-byte boundary, then whole 16-byte chunks.
    const auto misalign = static_cast<int64_t>(reinterpret_cast<uintptr_t>(row) % 16);
    const int64_t to_boundary = misalign ? 16 - misalign : 0;
    const int64_t head = to_boundary < cols ? to_boundary : cols;
    const int64_t chunks = (cols - head) / 16;
    int32_t sum = 0;
    if (lane < head) sum += row[lane];
    const auto* vec = reinterpret_cast<const int4*>(row + head);
    for (int64_t i = lane; i < chunks; i += 32) {
      const int4 v = __ldg(vec + i);
      sum += byte_sum(static_cast<uint32_t>(v.x)) + byte_sum(static_cast<uint32_t>(v.y)) +
             byte_sum(static_cast<uint32_t>(v.z)) + byte_sum(static_cast<uint32_t>(v.w));
    }
    for (int64_t c = head + chunks * 16 + lane; c < cols; c += 32) sum += row[c];
    for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
    if (lane == 0) out[r] = sum;
  }
}

__global__ void row_sums_thread_per_row(const int8_t* __restrict__ y, int64_t rows, int64_t cols,
                                        int64_t row_stride, int64_t col_stride,
                                        int32_t* __restrict__ out) {
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  for (int64_t r = first; r < rows; r += static_cast<int64_t>(gridDim.x) * kThreads) {
    const int8_t* row = y + r * row_stride;
    int32_t sum = 0;
    for (int64_t c = 0; c < cols; ++c) sum += row[c * col_stride];
    out[r] = sum;
  }
}

int64_t blocks_for(int64_t units, int64_t per_block) {
  return std::max<int64_t>(1, std::min(kMaxBlocks, (units + per_block - 1) / per_block));
}

}  // namespace

Status row_sums_cuda(const MatrixView& y, int32_t* out, cudaStream_t stream) {
  GEMM_INT8_RETURN_IF_ERROR(validate_row_sums(y, out));
  if (y.device.kind != Device::Kind::kCuda)
    return Status::value_error("y: row_sums_cuda needs device memory");
  if (y.rows == 0) return {};
  const auto* data = static_cast<const int8_t*>(y.data);
  if (y.col_stride == 1 || y.cols <= 1) {
    const auto blocks = static_cast<unsigned>(blocks_for(y.rows, kWarpsPerBlock));
    row_sums_warp_per_row<<<blocks, kThreads, 0, stream>>>(data, y.rows, y.cols, y.row_stride, out);
  } else {
    const auto blocks = static_cast<unsigned>(blocks_for(y.rows, kThreads));
    row_sums_thread_per_row<<<blocks, kThreads, 0, stream>>>(data, y.rows, y.cols, y.row_stride,
                                                             y.col_stride, out);
  }
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess)
    return Status::cuda_error(std::string("row_sums: kernel launch failed: ") +
                              cudaGetErrorString(err));
  return {};
}

}  // namespace gemm_int8
