// The sm80 family: CUTLASS 2.x int8 tensor-core GEMM (mma.sync m16n8k32,
// cp.async multistage), bfloat16 output with the alpha epilogue.
// Included by one generated translation unit per row of tile_configs.def.
#pragma once

#include <cutlass/epilogue/thread/linear_combination.h>
#include <cutlass/gemm/device/gemm.h>

#include "kernels/cutlass_run.h"

namespace gemm_int8::kernels::sm80 {

// out = bf16_rn(float(acc) * alpha): OnlyAlphaScaling never reads a source
// matrix, and float * float is a single rounding, matching the reference.
using AlphaEpilogue = cutlass::epilogue::thread::LinearCombination<
    cutlass::bfloat16_t, kDenseAlignN, int32_t, float,
    cutlass::epilogue::thread::ScaleType::OnlyAlphaScaling>;

template <int TileM, int TileN, int TileK, int WarpM, int WarpN, int WarpK, int Stages, int AlignK>
using TensorOpGemm = cutlass::gemm::device::Gemm<
    int8_t, cutlass::layout::RowMajor,               // x: M x K, K contiguous
    int8_t, cutlass::layout::ColumnMajor,            // y^T: K x N, K contiguous
    cutlass::bfloat16_t, cutlass::layout::RowMajor,  // out
    int32_t, cutlass::arch::OpClassTensorOp, cutlass::arch::Sm80,
    cutlass::gemm::GemmShape<TileM, TileN, TileK>, cutlass::gemm::GemmShape<WarpM, WarpN, WarpK>,
    cutlass::gemm::GemmShape<16, 8, 32>, AlphaEpilogue,
    cutlass::gemm::threadblock::GemmIdentityThreadblockSwizzle<8>, Stages, AlignK, AlignK,
    /*SplitKSerial=*/false, cutlass::arch::OpMultiplyAddSaturate>;

template <typename Gemm>
Status run(const char* name, const DenseGemm& g, cudaStream_t stream) {
  using Ref = cutlass::TensorRef<cutlass::bfloat16_t, cutlass::layout::RowMajor>;
  Ref out(static_cast<cutlass::bfloat16_t*>(g.out), cutlass::layout::RowMajor(g.ld_out));
  const typename Gemm::Arguments args({g.m, g.n, g.k}, {g.x, cutlass::layout::RowMajor(g.ld_x)},
                                      {g.y, cutlass::layout::ColumnMajor(g.ld_y)}, out, out,
                                      {g.alpha, 0.0f});
  return run_cutlass<Gemm>(name, args, nullptr, stream);
}

}  // namespace gemm_int8::kernels::sm80

// One row of tile_configs.def becomes one exported launcher.
#define GEMM_INT8_SM80_CONFIG(name, tm, tn, tk, wm, wn, wk, stages, align_k)                     \
  namespace gemm_int8::kernels::sm80 {                                                           \
  Status launch_##name(const DenseGemm& g, cudaStream_t stream) {                                \
    return run<TensorOpGemm<tm, tn, tk, wm, wn, wk, stages, align_k>>("sm80_" #name, g, stream); \
  }                                                                                              \
  }
