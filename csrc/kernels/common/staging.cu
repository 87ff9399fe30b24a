// Element-wise helpers the runner uses to adapt operands to a kernel's
// alignment rules: staging x and y into 16-byte rows (odd K, strided views)
// and unstaging a padded out. They run only for such operands, and the
// unstage of unit-stride rows moves at copy bandwidth.
#include <algorithm>
#include <cstdint>
#include <string>

#include "kernels/common/out_types.cuh"

namespace gemm_int8::kernels {
namespace {

constexpr int kThreads = 256;

// Rows go to blockIdx.y (grid-stride), columns to threads: no 64-bit
// division per element, and each warp touches contiguous row segments.
dim3 grid_for(int64_t rows, int64_t cols_per_thread_unit) {
  const int64_t x = (cols_per_thread_unit + kThreads - 1) / kThreads;
  return dim3(static_cast<unsigned>(x < 64 ? (x > 0 ? x : 1) : 64),
              static_cast<unsigned>(rows < 65535 ? (rows > 0 ? rows : 1) : 65535));
}

// One thread per 16 destination bytes over the flattened (row, 16-byte
// column unit) space, so short rows (K = 1000 is 63 units) still fill whole
// CTAs. Reads use the widest access the source row's alignment allows.
template <typename Word>
__device__ __forceinline__ bool try_copy_words(const int8_t* src, int8_t (&chunk)[16]) {
  if (reinterpret_cast<uintptr_t>(src) % sizeof(Word) != 0) return false;
#pragma unroll
  for (int w = 0; w < 16 / static_cast<int>(sizeof(Word)); ++w)
    reinterpret_cast<Word*>(chunk)[w] = reinterpret_cast<const Word*>(src)[w];
  return true;
}

__global__ void stage_int8_kernel(const int8_t* src, int64_t rows, int64_t cols, int64_t rs,
                                  int64_t cs, int8_t* dst, int64_t rows_dst, int64_t ld_dst) {
  const int64_t units_per_row = ld_dst / 16;
  const int64_t units = rows_dst * units_per_row;
  for (int64_t u = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; u < units;
       u += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = u / units_per_row, c0 = (u - r * units_per_row) * 16;
    alignas(16) int8_t chunk[16];
    const int8_t* from = src + r * rs + c0 * cs;
    const bool whole = r < rows && c0 + 16 <= cols && cs == 1;
    if (!(whole && (try_copy_words<int4>(from, chunk) || try_copy_words<int2>(from, chunk) ||
                    try_copy_words<int>(from, chunk)))) {
#pragma unroll
      for (int e = 0; e < 16; ++e)
        chunk[e] = (r < rows && c0 + e < cols) ? from[e * cs] : int8_t{0};
    }
    *reinterpret_cast<int4*>(dst + r * ld_dst + c0) = *reinterpret_cast<const int4*>(chunk);
  }
}

// The generic copy, for an out view with a column stride (a transposed
// view) or 4-byte elements (whose rows are always element-aligned, so plain
// coalesced stores are as fast as any): one thread per element, rows on grid y.
template <class T>
__global__ void unstage_kernel(const T* src, int64_t ld_src, int64_t rows, int64_t cols, T* dst,
                               int64_t rs, int64_t cs) {
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y)
    for (int64_t c = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; c < cols;
         c += int64_t{gridDim.x} * blockDim.x)
      dst[r * rs + c * cs] = src[r * ld_src + c];
}

// 16-bit rows (bfloat16 or float16: only bits move) into an out view with
// unit column stride and any pitch (a ragged N leaves rows 2 bytes off a
// 4-byte boundary). A warp moves 256 elements per
// step: 16-byte loads into shared memory (bytes in flight), then coalesced
// 4-byte stores of element pairs, shifted by one element on rows that start
// off a 4-byte boundary.
constexpr int kChunk = 256;  // elements per warp step
__global__ void unstage_rows_16bit_kernel(const __nv_bfloat16* src, int64_t ld_src, int64_t rows,
                                          int64_t cols, __nv_bfloat16* dst, int64_t rs) {
  __shared__ alignas(16) __nv_bfloat16 buffer[kThreads / 32][kChunk + 8];
  const int lane = threadIdx.x % 32;
  __nv_bfloat16* chunk = buffer[threadIdx.x / 32] + 8;  // chunk[-1]: the element before
  const int64_t warp = int64_t{blockIdx.x} * (kThreads / 32) + threadIdx.x / 32;
  const int64_t warps = int64_t{gridDim.x} * (kThreads / 32);
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    const __nv_bfloat16* from = src + r * ld_src;
    __nv_bfloat16* to = dst + r * rs;
    const int shift = static_cast<int>(reinterpret_cast<uintptr_t>(to) % 4 / 2);
    for (int64_t c = warp * kChunk; c < cols; c += warps * kChunk) {
      // ld_src is a multiple of 8 >= cols: a load that starts in the row ends in it.
      if (c + 8 * lane < cols)
        *reinterpret_cast<int4*>(chunk + 8 * lane) =
            *reinterpret_cast<const int4*>(from + c + 8 * lane);
      if (lane == 0 && shift && c > 0) chunk[-1] = from[c - 1];
      __syncwarp();
#pragma unroll
      for (int i = 0; i < kChunk / 64; ++i) {
        const int w = 2 * (32 * i + lane) - shift;  // first element of this lane's word
        const int64_t j = c + w;
        if (j + 1 < cols && j >= 0) {
          *reinterpret_cast<__nv_bfloat162*>(to + j) = __halves2bfloat162(chunk[w], chunk[w + 1]);
        } else if (j + 1 == cols) {  // a lone element at either end of the row
          to[j] = chunk[w];
        } else if (j < 0) {
          to[0] = chunk[0];
        }
      }
      // With the shift, a chunk's last element belongs to the next chunk's first word.
      if (shift && lane == 0 && c + kChunk == cols) to[cols - 1] = chunk[kChunk - 1];
      __syncwarp();
    }
  }
}

template <class Out>
__global__ void fill_epilogue_kernel(Out* dst, int64_t rows, int64_t cols, int64_t rs, int64_t cs,
                                     const EpilogueParams epilogue) {
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y)
    for (int64_t c = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; c < cols;
         c += int64_t{gridDim.x} * blockDim.x)
      dst[r * rs + c * cs] = epilogue_out<Out>(epilogue, 0, r, c);
}

template <class Half>
__global__ void widen_kernel(const Half* src, int64_t n, int64_t stride, float* dst) {
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x)
    dst[i] = static_cast<float>(src[i * stride]);
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
  const int64_t units = rows_dst * (ld_dst / 16);
  const int64_t blocks = std::min<int64_t>((units + kThreads - 1) / kThreads, 1 << 16);
  stage_int8_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
      static_cast<const int8_t*>(src.data), src.rows, src.cols, src.row_stride, src.col_stride, dst,
      rows_dst, ld_dst);
  return launch_status("stage_int8");
}

Status unstage_out(const void* src, int64_t ld_src, const MutableMatrixView& dst,
                   cudaStream_t stream) {
  if (dst.rows == 0 || dst.cols == 0) return {};
  if (dtype_size(dst.dtype) == 2 && (dst.col_stride == 1 || dst.cols == 1)) {
    const int64_t warps = (dst.cols + kChunk - 1) / kChunk;
    unstage_rows_16bit_kernel<<<grid_for(dst.rows, warps * 32), kThreads, 0, stream>>>(
        static_cast<const __nv_bfloat16*>(src), ld_src, dst.rows, dst.cols,
        static_cast<__nv_bfloat16*>(dst.data), dst.row_stride);
    return launch_status("unstage_out");
  }
  const dim3 grid = grid_for(dst.rows, dst.cols);
  if (dtype_size(dst.dtype) == 2)
    unstage_kernel<<<grid, kThreads, 0, stream>>>(
        static_cast<const uint16_t*>(src), ld_src, dst.rows, dst.cols,
        static_cast<uint16_t*>(dst.data), dst.row_stride, dst.col_stride);
  else
    unstage_kernel<<<grid, kThreads, 0, stream>>>(
        static_cast<const uint32_t*>(src), ld_src, dst.rows, dst.cols,
        static_cast<uint32_t*>(dst.data), dst.row_stride, dst.col_stride);
  return launch_status("unstage_out");
}

Status fill_epilogue(const MutableMatrixView& dst, const EpilogueParams& epilogue,
                     cudaStream_t stream) {
  if (dst.rows == 0 || dst.cols == 0) return {};
  return with_out_type(dst.dtype, [&](auto out_type) {
    using Out = decltype(out_type);
    fill_epilogue_kernel<<<grid_for(dst.rows, dst.cols), kThreads, 0, stream>>>(
        static_cast<Out*>(dst.data), dst.rows, dst.cols, dst.row_stride, dst.col_stride, epilogue);
    return launch_status("fill_epilogue");
  });
}

Status widen_to_float(const VectorView& src, float* dst, cudaStream_t stream) {
  if (src.size == 0) return {};
  const unsigned blocks =
      static_cast<unsigned>(std::min<int64_t>((src.size + kThreads - 1) / kThreads, 1024));
  if (src.dtype == DType::kFloat16)
    widen_kernel<<<blocks, kThreads, 0, stream>>>(static_cast<const __half*>(src.data), src.size,
                                                  src.stride, dst);
  else
    widen_kernel<<<blocks, kThreads, 0, stream>>>(static_cast<const __nv_bfloat16*>(src.data),
                                                  src.size, src.stride, dst);
  return launch_status("widen_to_float");
}

}  // namespace gemm_int8::kernels
