// The SIMT family: one generic kernel on CUDA cores (dp4a), any strides, any
// shape. It serves GPUs without int8 tensor cores (sm_75) and is the
// reference GPU path the tests force with GEMM_INT8_FORCE_KERNEL=simt.
#include "kernels/common/out_types.cuh"

namespace gemm_int8::kernels {
namespace {

constexpr int kTileM = 64, kTileN = 64, kTileK = 32;
constexpr int kThreads = 256;  // 16 x 16 threads, 4 x 4 outputs each
constexpr int kPackedK = kTileK / 4;

struct StridedInt8 {
  const int8_t* data;
  int64_t rows, cols, rs, cs;
};

// Loads a 64 x 32 tile as 8 packed words per row: thread t packs 8 K-values of row t / 4.
__device__ void load_tile(const StridedInt8& a, int64_t row0, int64_t k0,
                          int (&smem)[kPackedK][kTileM + 1]) {
  const int r = threadIdx.x / 4, kq = (threadIdx.x % 4) * 8;
  const int64_t row = row0 + r;
  for (int w = 0; w < 2; ++w) {
    unsigned packed = 0;
    for (int e = 0; e < 4; ++e) {
      const int64_t k = k0 + kq + w * 4 + e;
      const int8_t v = (row < a.rows && k < a.cols) ? a.data[row * a.rs + k * a.cs] : int8_t{0};
      packed |= (static_cast<unsigned>(static_cast<uint8_t>(v)) << (8 * e));
    }
    smem[kq / 4 + w][r] = static_cast<int>(packed);
  }
}

template <class Out>
__global__ void __launch_bounds__(kThreads)
    simt_gemm_kernel(StridedInt8 x, StridedInt8 y, Out* out, int64_t ors, int64_t ocs,
                     const EpilogueParams epilogue, int64_t n_tiles, int64_t tiles) {
  __shared__ int xs[kPackedK][kTileM + 1];
  __shared__ int ys[kPackedK][kTileN + 1];
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int64_t m0 = (tile / n_tiles) * kTileM, n0 = (tile % n_tiles) * kTileN;
    int acc[4][4] = {};
    for (int64_t k0 = 0; k0 < x.cols; k0 += kTileK) {
      __syncthreads();
      load_tile(x, m0, k0, xs);
      load_tile(y, n0, k0, ys);
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < kPackedK; ++kk) {
        int a[4], b[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) a[i] = xs[kk][ty * 4 + i], b[i] = ys[kk][tx * 4 + i];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
          for (int j = 0; j < 4; ++j) acc[i][j] = __dp4a(a[i], b[j], acc[i][j]);
      }
    }
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int64_t m = m0 + ty * 4 + i, n = n0 + tx * 4 + j;
        if (m < x.rows && n < y.rows)
          out[m * ors + n * ocs] = epilogue_out<Out>(epilogue, acc[i][j], m, n);
      }
  }
}

}  // namespace

cudaError_t probe_simt() {
  cudaFuncAttributes attr;
  return cudaFuncGetAttributes(&attr, simt_gemm_kernel<__nv_bfloat16>);
}

Status launch_simt(const GemmProblem& p, const EpilogueParams& epilogue, cudaStream_t stream) {
  const StridedInt8 x{static_cast<const int8_t*>(p.x.data), p.x.rows, p.x.cols, p.x.row_stride,
                      p.x.col_stride};
  const StridedInt8 y{static_cast<const int8_t*>(p.y.data), p.y.rows, p.y.cols, p.y.row_stride,
                      p.y.col_stride};
  const int64_t n_tiles = (p.n() + kTileN - 1) / kTileN;
  const int64_t tiles = ((p.m() + kTileM - 1) / kTileM) * n_tiles;
  const int grid = static_cast<int>(tiles < (1 << 20) ? tiles : (1 << 20));
  return with_out_type(p.out.dtype, [&](auto out_type) {
    using Out = decltype(out_type);
    simt_gemm_kernel<Out><<<grid, kThreads, 0, stream>>>(x, y, static_cast<Out*>(p.out.data),
                                                         p.out.row_stride, p.out.col_stride,
                                                         epilogue, n_tiles, tiles);
    return launch_status("simt_gemm");
  });
}

}  // namespace gemm_int8::kernels
