// How an sm90 row writes its output tile. Both compute
//   out = bf16_rn(float_rn(acc) * alpha)
// with one multiply and no source term, so a zero accumulator keeps the sign
// alpha gives it, and both give the same bits. They differ in how the tile
// reaches global memory.
#pragma once

#include <cutlass/cutlass.h>
#include <cutlass/epilogue/thread/linear_combination.h>
#include <cutlass/gemm/gemm.h>

#include <cute/tensor.hpp>
#include <cutlass/epilogue/collective/collective_builder.hpp>
#include <cutlass/epilogue/collective/detail.hpp>
#include <cutlass/epilogue/collective/sm70_epilogue_vectorized.hpp>
#include <cutlass/epilogue/fusion/sm90_callbacks_tma_warpspecialized.hpp>

#include "kernels/launchers.h"

namespace gemm_int8::kernels::sm90 {

// TMA stores: the tile leaves shared memory through the copy engine, which
// needs a 16-byte row pitch. Later epilogues (row and column scales, bias)
// become more nodes of this tree.
struct TmaStore {
  using AlphaTree = cutlass::epilogue::fusion::Sm90EVT<
      cutlass::epilogue::fusion::Sm90Compute<cutlass::multiplies, cutlass::bfloat16_t, float,
                                             cutlass::FloatRoundStyle::round_to_nearest>,
      cutlass::epilogue::fusion::Sm90ScalarBroadcast<float>,
      cutlass::epilogue::fusion::Sm90AccFetch>;

  template <class TileShape, class ClusterShape, class EpilogueSchedule, class LayoutD>
  using Collective = typename cutlass::epilogue::collective::CollectiveBuilder<
      cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, TileShape, ClusterShape,
      cutlass::epilogue::collective::EpilogueTileAuto, int32_t, float, void, LayoutD, kDenseAlignN,
      cutlass::bfloat16_t, LayoutD, kDenseAlignN, EpilogueSchedule, AlphaTree>::CollectiveOp;

  template <class Arguments, class StrideD>
  static void set(Arguments& args, float alpha, void* out, const StrideD& stride) {
    args.thread = {{{alpha}}, {}, {}};
    args.dC = stride;
    args.ptr_D = static_cast<cutlass::bfloat16_t*>(out);
    args.dD = stride;
  }
};

// Row stores, for an out pitch that is not a multiple of 16 bytes (a ragged
// N): the cooperative warpgroups stage int32 accumulators in shared memory,
// then each warp writes 32 consecutive bfloat16 of one row, predicated at the
// problem's edge. Cooperative, unswapped tiles with tile_n <= 128 only: the
// staging buffer holds one 128 x tile_n slab of the tile (the tiled MMA's C
// footprint), padded by 8 words a row against bank conflicts.
struct RowStore {
  template <class TileShape, class ClusterShape, class EpilogueSchedule, class LayoutD>
  struct Check {
    static constexpr int kTileN = cute::size<1>(TileShape{});
    static_assert(kTileN <= 128 && cute::size<0>(TileShape{}) % 128 == 0,
                  "row stores stage a 128 x tile_n slab of a cooperative tile");
    static_assert(std::is_same_v<LayoutD, cutlass::layout::RowMajor>, "row stores: unswapped rows");
    using SmemLayout = cute::Layout<cute::Shape<cute::_128, cute::Int<kTileN>>,
                                    cute::Stride<cute::Int<kTileN + 8>, cute::_1>>;
    // 256 threads: 8 rows of 32 consecutive columns per step.
    using TiledCopyS2R = decltype(cute::make_tiled_copy(
        cute::Copy_Atom<cute::UniversalCopy<int32_t>, int32_t>{},
        cute::Layout<cute::Shape<cute::_8, cute::_32>, cute::Stride<cute::_32, cute::_1>>{},
        cute::Layout<cute::Shape<cute::_1, cute::_1>>{}));
    using ThreadOp = cutlass::epilogue::thread::LinearCombination<
        cutlass::bfloat16_t, 1, int32_t, float,
        cutlass::epilogue::thread::ScaleType::OnlyAlphaScaling,
        cutlass::FloatRoundStyle::round_to_nearest>;
    using Stride = cutlass::gemm::TagToStrideC_t<cutlass::layout::RowMajor>;
    using Op = cutlass::epilogue::collective::detail::Sm90TmaWarpSpecializedAdapter<
        cutlass::epilogue::collective::Epilogue<
            Stride, Stride, ThreadOp, SmemLayout,
            cute::Copy_Atom<cute::UniversalCopy<int32_t>, int32_t>, TiledCopyS2R,
            cute::Copy_Atom<cute::UniversalCopy<uint16_t>, cutlass::bfloat16_t>,
            cutlass::epilogue::EpilogueSimtVectorized>>;
  };
  template <class TileShape, class ClusterShape, class EpilogueSchedule, class LayoutD>
  using Collective = typename Check<TileShape, ClusterShape, EpilogueSchedule, LayoutD>::Op;

  template <class Arguments, class StrideD>
  static void set(Arguments& args, float alpha, void* out, const StrideD& stride) {
    args.thread.alpha = alpha;
    args.dC = stride;
    args.ptr_D = static_cast<cutlass::bfloat16_t*>(out);
    args.dD = stride;
  }
};

}  // namespace gemm_int8::kernels::sm90
