// How an sm90 row turns its accumulator tile into out. Both stores apply the
// one epilogue of core/epilogue_math.h (scales, zero point, bias, the cast to
// out's dtype), so they give the same bits as every other family; they
// differ in how the values are gathered and how the tile reaches memory.
#pragma once

#include <cutlass/cutlass.h>
#include <cutlass/gemm/gemm.h>

#include <cute/tensor.hpp>
#include <cutlass/epilogue/collective/collective_builder.hpp>
#include <cutlass/epilogue/collective/detail.hpp>
#include <cutlass/epilogue/collective/sm70_epilogue_vectorized.hpp>
#include <cutlass/epilogue/fusion/sm90_callbacks_tma_warpspecialized.hpp>
#include <type_traits>

#include "core/epilogue_math.h"
#include "kernels/cutlass_run.h"

namespace gemm_int8::kernels::sm90 {

namespace fusion = cutlass::epilogue::fusion;

// The root of the tree: the broadcast children deliver, per accumulator
// element, xs, ys, the zero point, the row sum of y and the bias; this node
// combines them with the shared arithmetic and rounds once.
template <class ElementOut>
struct ScaledOutput : fusion::Sm90VisitorImpl<> {
  using fusion::Sm90VisitorImpl<>::Sm90VisitorImpl;

  struct ConsumerStoreCallbacks : fusion::EmptyConsumerStoreCallbacks {
    template <class ElementAcc, int N>
    CUTLASS_DEVICE cutlass::Array<ElementOut, N> visit(
        cutlass::Array<ElementAcc, N> const&, int, int, int, cutlass::Array<int32_t, N> const& acc,
        cutlass::Array<float, N> const& xs, cutlass::Array<float, N> const& ys,
        cutlass::Array<int32_t, N> const& zp, cutlass::Array<int32_t, N> const& y_sum,
        cutlass::Array<float, N> const& bias) {
      cutlass::NumericConverter<ElementOut, float, cutlass::FloatRoundStyle::round_to_nearest> cast;
      cutlass::Array<ElementOut, N> out;
      CUTLASS_PRAGMA_UNROLL
      for (int i = 0; i < N; ++i) {
        const int32_t corrected = zero_point_corrected(acc[i], zp[i], y_sum[i]);
        if constexpr (std::is_same_v<ElementOut, int32_t>)
          out[i] = corrected;
        else
          out[i] = cast(scaled_value(corrected, xs[i], ys[i], bias[i]));
      }
      return out;
    }
  };

  template <bool ReferenceSrc, class... Args>
  CUTLASS_DEVICE auto get_consumer_store_callbacks(fusion::ConsumerStoreArgs<Args...> const&) {
    return ConsumerStoreCallbacks{};
  }
};

// Epilogue vectors along the kernel's M (one value per row of the tile) or
// N, each a run-time choice of absent (the fallback value), one value (step
// 0) or one per row. Loads are scalar: the vectors may have any alignment.
template <class CtaTile, class T>
struct AlongKernelM {
  using Node = fusion::Sm90ColBroadcast<0, CtaTile, T, T, cute::Stride<bool, cute::_0, int64_t>, 1>;
  static typename Node::Arguments args(const T* data, T fallback, bool per_row) {
    typename Node::Arguments a{};
    a.ptr_col = data;
    a.null_default = fallback;
    cute::get<0>(a.dCol) = per_row;
    return a;
  }
};
template <class CtaTile, class T>
struct AlongKernelN {
  using Node = fusion::Sm90RowBroadcast<0, CtaTile, T, T, cute::Stride<cute::_0, bool, int64_t>, 1>;
  static typename Node::Arguments args(const T* data, T fallback, bool per_row) {
    typename Node::Arguments a{};
    a.ptr_row = data;
    a.null_default = fallback;
    cute::get<1>(a.dRow) = per_row;
    return a;
  }
};

// Swapped rows compute out^T: x's rows run along the kernel's N.
template <class CtaTile, class ElementOut, bool SwapAB>
struct ScaledTree {
  template <class T>
  using PerRowOfX = std::conditional_t<SwapAB, AlongKernelN<CtaTile, T>, AlongKernelM<CtaTile, T>>;
  template <class T>
  using PerRowOfY = std::conditional_t<SwapAB, AlongKernelM<CtaTile, T>, AlongKernelN<CtaTile, T>>;

  using Tree = fusion::Sm90EVT<ScaledOutput<ElementOut>, fusion::Sm90AccFetch,
                               typename PerRowOfX<float>::Node, typename PerRowOfY<float>::Node,
                               typename PerRowOfX<int32_t>::Node, typename PerRowOfY<int32_t>::Node,
                               typename PerRowOfY<float>::Node>;

  static typename Tree::Arguments arguments(const EpilogueParams& e) {
    return {{},
            PerRowOfX<float>::args(e.x_scale, e.alpha, e.x_scale_step != 0),
            PerRowOfY<float>::args(e.y_scale, 1.0f, e.y_scale_step != 0),
            PerRowOfX<int32_t>::args(e.x_zero_point, 0, e.x_zero_point_step != 0),
            PerRowOfY<int32_t>::args(e.y_sums, 0, true),
            PerRowOfY<float>::args(e.bias, -0.0f, true),
            {}};
  }
};

// TMA stores: the tile leaves shared memory through the copy engine, which
// needs a 16-byte row pitch.
template <class ElementOut, bool SwapAB>
struct TmaStore {
  static constexpr int kAlign = 16 / static_cast<int>(sizeof(ElementOut));

  template <class TileShape, class ClusterShape, class EpilogueSchedule, class LayoutD>
  using Collective = typename cutlass::epilogue::collective::CollectiveBuilder<
      cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, TileShape, ClusterShape,
      cutlass::epilogue::collective::EpilogueTileAuto, int32_t, float, void, LayoutD, kAlign,
      ElementOut, LayoutD, kAlign, EpilogueSchedule,
      typename ScaledTree<TileShape, ElementOut, SwapAB>::Tree>::CollectiveOp;

  template <class TileShape, class Arguments, class StrideD>
  static void set(Arguments& args, const DenseGemm& g, const StrideD& stride) {
    args.thread = ScaledTree<TileShape, ElementOut, SwapAB>::arguments(g.epilogue);
    args.dC = stride;
    args.ptr_D = static_cast<ElementOut*>(g.out);
    args.dD = stride;
  }
};

// Row stores, for an out pitch that is not a multiple of 16 bytes (a ragged
// N). The accumulators are finished and rounded to out's dtype in registers,
// staged in shared memory (one 128 x tile_n slab of the tile at a time: the
// tiled MMA's C footprint), then each warp writes 32 consecutive elements of
// one row, predicated at the problem's edge. Staging the output type rather
// than int32 halves the buffer for 16-bit outs, so the mainloop keeps its
// fourth stage; a row pitch of tile_n + 8 keeps the fragment writes free of
// bank conflicts. Cooperative, unswapped tiles with tile_n <= 128 only.
template <class ElementOut, bool SwapAB>
struct RowStore {
  static_assert(!SwapAB, "row stores: unswapped rows");
  using Element = ElementOut;
  static constexpr int kBits = cute::sizeof_bits_v<Element>;

  // Hands the staged values through unchanged and carries the epilogue
  // params to the device (CUTLASS forwards "elementwise arguments").
  struct PassThrough {
    using ElementOutput = Element;
    using ElementAccumulator = Element;
    using ElementCompute = Element;
    using ElementC = Element;
    using ElementD = Element;
    static constexpr int kCount = 1;
    struct ElementwiseOp {
      using Arguments = EpilogueParams;
    };
    using ElementwiseArguments = EpilogueParams;
    struct Params {
      Element alpha{}, beta{};
      Element const* alpha_ptr = nullptr;
      Element const* beta_ptr = nullptr;
    };
    CUTLASS_HOST_DEVICE explicit PassThrough(Params const&) {}
    CUTLASS_HOST_DEVICE bool is_source_needed() const { return false; }
    CUTLASS_HOST_DEVICE Element operator()(Element v) const { return v; }
    CUTLASS_HOST_DEVICE Element operator()(Element v, Element) const { return v; }
  };

  // The staging epilogue from CUTLASS, fed finished values.
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
    using One = cute::UniversalCopy<cute::uint_bit_t<kBits>>;
    using Two = cute::UniversalCopy<cute::uint_bit_t<2 * kBits>>;
    // 256 threads: 8 rows of 32 consecutive columns per step, one element
    // each, so that the edge predicate covers every stored element.
    using TiledCopyS2R = decltype(cute::make_tiled_copy(
        cute::Copy_Atom<One, Element>{},
        cute::Layout<cute::Shape<cute::_8, cute::_32>, cute::Stride<cute::_32, cute::_1>>{},
        cute::Layout<cute::Shape<cute::_1, cute::_1>>{}));
    using Stride = cutlass::gemm::TagToStrideC_t<cutlass::layout::RowMajor>;
    using Op = cutlass::epilogue::collective::detail::Sm90TmaWarpSpecializedAdapter<
        cutlass::epilogue::collective::Epilogue<
            Stride, Stride, PassThrough, SmemLayout, cute::Copy_Atom<Two, Element>, TiledCopyS2R,
            cute::Copy_Atom<One, Element>, cutlass::epilogue::EpilogueSimtVectorized>>;
  };

  template <class Base>
  struct FinishThenStage : Base {
    CUTLASS_DEVICE FinishThenStage(typename Base::Params const& params,
                                   typename Base::TensorStorage& smem)
        : Base(params, smem), epilogue_(params.activation) {}

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
      using namespace cute;
      // M and N are below 2^31 on the CUDA path.
      const int m0 = static_cast<int>(get<0>(cta_coord)) * size<0>(cta_tile);
      const int n0 = static_cast<int>(get<1>(cta_coord)) * size<1>(cta_tile);
      const int m_end = get<0>(problem), n_end = get<1>(problem);
      // The coordinates of this thread's accumulators, in the same layout.
      Tensor tile_coords = make_identity_tensor(make_shape(size<0>(cta_tile), size<1>(cta_tile)));
      Tensor coords = tiled_mma.get_thread_slice(thread_idx).partition_C(tile_coords);
      cutlass::NumericConverter<Element, float, cutlass::FloatRoundStyle::round_to_nearest> cast;
      auto finished = make_fragment_like<Element>(accumulators);
      // A GMMA accumulator fragment is ((2 columns, 2 rows 8 apart, column
      // groups), MMA_M, MMA_N): each row and each column recurs across the
      // other modes, so their values are loaded once per thread (row values
      // first, then one column at a time) instead of once per element.
      // Coordinates outside the problem are clamped: those elements are never
      // stored, and the loads stay in bounds without a branch.
      static_assert(rank(AccLayout{}) == 3 && rank<0>(AccLayout{}) == 3,
                    "row stores: a GMMA accumulator fragment");
      constexpr int kCols = size<0, 0>(AccLayout{}), kHalves = size<0, 1>(AccLayout{});
      constexpr int kGroups = size<0, 2>(AccLayout{});
      constexpr int kTilesM = size<1>(AccLayout{}), kTilesN = size<2>(AccLayout{});
      const EpilogueParams& e = epilogue_;
      float xs[kHalves][kTilesM];
      int32_t zp[kHalves][kTilesM];
      CUTLASS_PRAGMA_UNROLL
      for (int h = 0; h < kHalves; ++h) {
        CUTLASS_PRAGMA_UNROLL
        for (int mi = 0; mi < kTilesM; ++mi) {
          const int m = min(m0 + get<0>(coords(make_coord(make_coord(0, h, 0), mi, 0))), m_end - 1);
          xs[h][mi] = e.xs(m);
          zp[h][mi] = e.x_zero_point ? e.x_zero_point[m * e.x_zero_point_step] : 0;
        }
      }
      CUTLASS_PRAGMA_UNROLL
      for (int ni = 0; ni < kTilesN; ++ni) {
        CUTLASS_PRAGMA_UNROLL
        for (int g = 0; g < kGroups; ++g) {
          CUTLASS_PRAGMA_UNROLL
          for (int c = 0; c < kCols; ++c) {
            const int n =
                min(n0 + get<1>(coords(make_coord(make_coord(c, 0, g), 0, ni))), n_end - 1);
            const float ys = e.ys(n), bias = e.bias_at(n);
            const int32_t y_sum = e.x_zero_point ? e.y_sums[n] : 0;
            CUTLASS_PRAGMA_UNROLL
            for (int h = 0; h < kHalves; ++h) {
              CUTLASS_PRAGMA_UNROLL
              for (int mi = 0; mi < kTilesM; ++mi) {
                const auto at = make_coord(make_coord(c, h, g), mi, ni);
                const int32_t corrected = zero_point_corrected(accumulators(at), zp[h][mi], y_sum);
                if constexpr (std::is_same_v<Element, int32_t>)
                  finished(at) = corrected;
                else
                  finished(at) = cast(scaled_value(corrected, xs[h][mi], ys, bias));
              }
            }
          }
        }
      }
      return Base::store(load_pipeline, load_state, store_pipeline, store_state, problem, cta_tile,
                         cta_coord, finished, tiled_mma, thread_idx, smem, subtile_index);
    }

   private:
    EpilogueParams epilogue_;
  };

  template <class TileShape, class ClusterShape, class EpilogueSchedule, class LayoutD>
  using Collective = FinishThenStage<typename Staging<TileShape, EpilogueSchedule, LayoutD>::Op>;

  template <class TileShape, class Arguments, class StrideD>
  static void set(Arguments& args, const DenseGemm& g, const StrideD& stride) {
    args.thread.activation = g.epilogue;  // read by FinishThenStage
    args.dC = stride;
    args.ptr_D = static_cast<Element*>(g.out);
    args.dD = stride;
  }
};

}  // namespace gemm_int8::kernels::sm90
