// The plain bfloat16 matmul, out = bf16(float(acc) * alpha) with alpha a
// host float or one device float, as a kernel of its own. The fused tree of
// sm90_epilogues.cuh computes the same bits (fma(alpha * 1, a, -0.0) rounds
// like alpha * a), but its five broadcast nodes cost the plain call 2-7 % on
// TMA-store rows and its per-element coordinates 15-18 % on row-store rows
// (docs/performance.md, "Issue 9"). Included by one generated translation
// unit per row of tile_configs.def; chosen by launch_sm90 when the epilogue
// has no vector.
#pragma once

#include "kernels/sm90/sm90_gemm.cuh"

namespace gemm_int8::kernels::sm90 {

// alpha: the host value, or the device scalar when x_scale holds one.
template <class ElementOut, bool SwapAB>
struct PlainTmaStore {
  static constexpr int kAlign = 16 / static_cast<int>(sizeof(ElementOut));
  using AlphaTree = fusion::Sm90EVT<fusion::Sm90Compute<cutlass::multiplies, ElementOut, float,
                                                        cutlass::FloatRoundStyle::round_to_nearest>,
                                    fusion::Sm90ScalarBroadcast<float>, fusion::Sm90AccFetch>;

  template <class TileShape, class ClusterShape, class EpilogueSchedule, class LayoutD>
  using Collective = typename cutlass::epilogue::collective::CollectiveBuilder<
      cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, TileShape, ClusterShape,
      cutlass::epilogue::collective::EpilogueTileAuto, int32_t, float, void, LayoutD, kAlign,
      ElementOut, LayoutD, kAlign, EpilogueSchedule, AlphaTree>::CollectiveOp;

  template <class TileShape, class Arguments, class StrideD>
  static void set(Arguments& args, const DenseGemm& g, const StrideD& stride) {
    typename fusion::Sm90ScalarBroadcast<float>::Arguments alpha{};
    alpha.scalars[0] = g.epilogue.alpha;
    alpha.scalar_ptrs[0] = g.epilogue.x_scale;
    args.thread = {alpha, {}, {}};
    args.dC = stride;
    args.ptr_D = static_cast<ElementOut*>(g.out);
    args.dD = stride;
  }
};

// RowStore's staging with the scaling in registers and no coordinates.
template <class ElementOut, bool SwapAB>
struct PlainRowStore : RowStore<ElementOut, SwapAB> {
  using Element = ElementOut;

  template <class Base>
  struct ScaleThenStage : Base {
    CUTLASS_DEVICE ScaleThenStage(typename Base::Params const& params,
                                  typename Base::TensorStorage& smem)
        : Base(params, smem),
          alpha_(params.activation.x_scale ? *params.activation.x_scale : params.activation.alpha) {
    }

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
      cutlass::NumericConverter<Element, float, cutlass::FloatRoundStyle::round_to_nearest> cast;
      auto scaled = cute::make_fragment_like<Element>(accumulators);
      CUTLASS_PRAGMA_UNROLL
      for (int i = 0; i < cute::size(accumulators); ++i)
        scaled(i) = cast(static_cast<float>(accumulators(i)) * alpha_);
      return Base::store(load_pipeline, load_state, store_pipeline, store_state, problem, cta_tile,
                         cta_coord, scaled, tiled_mma, thread_idx, smem, subtile_index);
    }

   private:
    float alpha_;
  };

  template <class TileShape, class ClusterShape, class EpilogueSchedule, class LayoutD>
  using Collective = ScaleThenStage<typename RowStore<ElementOut, SwapAB>::template Staging<
      TileShape, EpilogueSchedule, LayoutD>::Op>;
};

// The plain twin of each store column of tile_configs.def.
template <template <class, bool> class Store>
struct PlainOf;
template <>
struct PlainOf<TmaStore> {
  template <class ElementOut, bool SwapAB>
  using type = PlainTmaStore<ElementOut, SwapAB>;
};
template <>
struct PlainOf<RowStore> {
  template <class ElementOut, bool SwapAB>
  using type = PlainRowStore<ElementOut, SwapAB>;
};

}  // namespace gemm_int8::kernels::sm90

// One row of tile_configs.def becomes the plain bfloat16 launcher and
// workspace query (replacing sm90_gemm.cuh's expansion in these files).
#undef GEMM_INT8_SM90_CONFIG
#define GEMM_INT8_SM90_CONFIG(name, tm, tn, tk, cm, cn, schedule, swap, store)                \
  namespace gemm_int8::kernels::sm90 {                                                        \
  using Gemm_##name##_plain =                                                                 \
      TmaGemm<tm, tn, tk, cm, cn, schedule, swap, PlainOf<store>::type, cutlass::bfloat16_t>; \
  Status launch_##name##_plain(const DenseGemm& g, void* workspace, cudaStream_t stream) {    \
    return Gemm_##name##_plain::run("sm90_" #name, g, workspace, stream);                     \
  }                                                                                           \
  size_t workspace_##name##_plain(const DenseGemm& g) {                                       \
    return Gemm_##name##_plain::workspace_size(g);                                            \
  }                                                                                           \
  }
