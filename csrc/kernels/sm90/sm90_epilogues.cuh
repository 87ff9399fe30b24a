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
#include <type_traits>

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
// N). The accumulators are scaled and rounded to bfloat16 in registers, staged
// in shared memory (one 128 x tile_n slab of the tile at a time: the tiled
// MMA's C footprint), then each warp writes 32 consecutive bfloat16 of one
// row, predicated at the problem's edge. Staging bfloat16 rather than int32
// halves the buffer, so the mainloop keeps its fourth stage; a row pitch of
// tile_n + 8 keeps the fragment writes free of bank conflicts.
// Cooperative, unswapped tiles with tile_n <= 128 only.
struct RowStore {
  using Element = cutlass::bfloat16_t;

  // The staging epilogue from CUTLASS, fed bfloat16 values it passes through
  // unchanged (bfloat16 -> float -> bfloat16 is exact).
  template <class TileShape, class EpilogueSchedule, class LayoutD>
  struct Staging {
    static_assert(
        std::is_same_v<EpilogueSchedule, cutlass::epilogue::TmaWarpSpecializedCooperative>,
        "row stores: the copy below spreads a slab over two warpgroups");
    static constexpr int kTileN = cute::size<1>(TileShape{});
    static_assert(kTileN <= 128 && cute::size<0>(TileShape{}) % 128 == 0,
                  "row stores stage a 128 x tile_n slab of a cooperative tile");
    static_assert(std::is_same_v<LayoutD, cutlass::layout::RowMajor>, "row stores: unswapped rows");
    using SmemLayout = cute::Layout<cute::Shape<cute::_128, cute::Int<kTileN>>,
                                    cute::Stride<cute::Int<kTileN + 8>, cute::_1>>;
    // 256 threads: 8 rows of 32 consecutive columns per step, one element
    // each, so that the edge predicate covers every stored element.
    using TiledCopyS2R = decltype(cute::make_tiled_copy(
        cute::Copy_Atom<cute::UniversalCopy<uint16_t>, Element>{},
        cute::Layout<cute::Shape<cute::_8, cute::_32>, cute::Stride<cute::_32, cute::_1>>{},
        cute::Layout<cute::Shape<cute::_1, cute::_1>>{}));
    using PassThrough =
        cutlass::epilogue::thread::LinearCombination<Element, 1, Element, float,
                                                     cutlass::epilogue::thread::ScaleType::Nothing,
                                                     cutlass::FloatRoundStyle::round_to_nearest>;
    using Stride = cutlass::gemm::TagToStrideC_t<cutlass::layout::RowMajor>;
    using Op = cutlass::epilogue::collective::detail::Sm90TmaWarpSpecializedAdapter<
        cutlass::epilogue::collective::Epilogue<
            Stride, Stride, PassThrough, SmemLayout,
            cute::Copy_Atom<cute::UniversalCopy<uint32_t>, Element>, TiledCopyS2R,
            cute::Copy_Atom<cute::UniversalCopy<uint16_t>, Element>,
            cutlass::epilogue::EpilogueSimtVectorized>>;
  };

  template <class Base>
  struct ScaleThenStage : Base {
    CUTLASS_DEVICE ScaleThenStage(typename Base::Params const& params,
                                  typename Base::TensorStorage& smem)
        : Base(params, smem), alpha_(params.thread.alpha) {}

    template <class ProblemShape, class CtaTile, class CtaCoord, class AccEngine, class AccLayout,
              class TiledMma>
    CUTLASS_DEVICE auto store(typename Base::LoadPipeline load_pipeline,
                              typename Base::LoadPipelineState load_state,
                              typename Base::StorePipeline store_pipeline,
                              typename Base::StorePipelineState store_state, ProblemShape problem,
                              CtaTile cta_tile, CtaCoord cta_coord,
                              cute::Tensor<AccEngine, AccLayout> accumulators, TiledMma tiled_mma,
                              int thread_idx, typename Base::TensorStorage& smem,
                              int subtile_index = -1) {
      // bf16_rn(float_rn(acc) * alpha): the rounding every other row applies.
      cutlass::NumericConverter<Element, float, cutlass::FloatRoundStyle::round_to_nearest> to_bf16;
      auto scaled = cute::make_fragment_like<Element>(accumulators);
      CUTLASS_PRAGMA_UNROLL
      for (int i = 0; i < cute::size(accumulators); ++i)
        scaled(i) = to_bf16(static_cast<float>(accumulators(i)) * alpha_);
      return Base::store(load_pipeline, load_state, store_pipeline, store_state, problem, cta_tile,
                         cta_coord, scaled, tiled_mma, thread_idx, smem, subtile_index);
    }

   private:
    float alpha_;
  };

  template <class TileShape, class ClusterShape, class EpilogueSchedule, class LayoutD>
  using Collective = ScaleThenStage<typename Staging<TileShape, EpilogueSchedule, LayoutD>::Op>;

  template <class Arguments, class StrideD>
  static void set(Arguments& args, float alpha, void* out, const StrideD& stride) {
    args.thread.alpha = alpha;  // read by ScaleThenStage; the staging epilogue passes through
    args.dC = stride;
    args.ptr_D = static_cast<cutlass::bfloat16_t*>(out);
    args.dD = stride;
  }
};

}  // namespace gemm_int8::kernels::sm90
