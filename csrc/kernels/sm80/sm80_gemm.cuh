// The sm80 family: CUTLASS 2.x int8 tensor-core GEMM (mma.sync m16n8k32,
// cp.async multistage) with the fused epilogue of core/epilogue_math.h and
// any output dtype of kOutDtypes. Included by one generated translation unit
// per row of tile_configs.def and output tag (kernels/common/out_tags.h).
//
// The default 2.x epilogue hands its OutputOp fragments without coordinates,
// so the epilogue is a visitor tree instead: EpilogueNode (below) turns each
// accumulator fragment into out values, VisitorAuxStore writes them.
#pragma once

#include <cutlass/gemm/device/gemm_universal_adapter.h>
#include <cutlass/gemm/kernel/default_gemm_universal_with_visitor.h>

#include <cutlass/epilogue/threadblock/fusion/visitors.hpp>
#include <type_traits>

#include "kernels/common/out_tags.h"
#include "kernels/common/out_types.cuh"
#include "kernels/cutlass_run.h"

namespace gemm_int8::kernels::sm80 {

// CUDA's type for a CUTLASS output element: round_to (shared with the
// hand-written kernels) does the one rounding, and the CUTLASS types wrap the
// same bits.
template <class Out>
struct Native {
  using type = Out;
};
template <>
struct Native<cutlass::bfloat16_t> {
  using type = __nv_bfloat16;
};
template <>
struct Native<cutlass::half_t> {
  using type = __half;
};

// The tree's leaf: accumulator fragment -> out fragment through the shared
// arithmetic, given the (row, column) of every element. A thread's columns are
// mostly the same from one epilogue step to the next, so their values are
// held in registers and reloaded only when they change; likewise row values.
// kPerColumn = false is the variant for epilogues without y_scale, bias and
// zero point: it passes the functor the neutral values as constants, which
// fold away, and holds no column registers (those cost the plain alpha GEMM
// up to ~25% at small K).
template <class ThreadMap, class Out, bool kPerColumn>
struct EpilogueNode {
  struct Arguments {
    EpilogueParams epilogue;
    int n_valid = 0;  // per-column vectors end here (out may be padded past it)
  };
  using Params = Arguments;
  struct SharedStorage {};

  template <class ProblemShape>
  static constexpr Params to_underlying_arguments(ProblemShape const&, Arguments const& args,
                                                  void*) {
    return args;
  }
  template <class ProblemShape>
  static size_t get_workspace_size(ProblemShape const&, Arguments const&) {
    return 0;
  }

  CUTLASS_HOST_DEVICE EpilogueNode() {}
  CUTLASS_HOST_DEVICE EpilogueNode(Params const& params, SharedStorage const&) : params_(&params) {}

  Params const* params_ = nullptr;

  static constexpr int kVector = ThreadMap::kElementsPerAccess;
  static constexpr int kColumns = kPerColumn ? ThreadMap::Iterations::kColumn : 1;
  // The partition below has no modes for these; visit's row index would run past it.
  static_assert(ThreadMap::Iterations::kGroup == 1 && ThreadMap::Iterations::kCluster == 1);

  template <class Coords>
  struct Callbacks : cutlass::epilogue::threadblock::EmptyCallbacks {
    Coords coords;  // (vector, column, row, step) -> (m, n, batch)
    Params const* params;
    int m_end;
    float ys[kColumns][kVector];
    float bias[kColumns][kVector];
    int32_t y_sums[kColumns][kVector];
    int column_n_[kColumns];  // first column of the values each slot holds
    int m_ = -1;              // the row whose values xs and zp hold
    float xs;
    int32_t zp;

    CUTLASS_DEVICE Callbacks(Coords c, Params const* p, int m) : coords(c), params(p), m_end(m) {
      CUTLASS_PRAGMA_UNROLL
      for (int i = 0; i < kColumns; ++i) column_n_[i] = -1;
    }

    // Loads the column values of fragment slot c if its columns changed:
    // thread maps differ in whether a thread keeps its columns over the steps.
    CUTLASS_DEVICE void load_columns(int c, int row, int column, int step) {
      const int n0 = cute::get<1>(coords(0, column, row, step));
      if (n0 == column_n_[c]) return;
      column_n_[c] = n0;
      const EpilogueParams& e = params->epilogue;
      // Clamped rather than branched on: a divergent branch per value costs
      // more than the load, and the padded columns' outputs are never read.
      const int n_last = params->n_valid - 1;
      CUTLASS_PRAGMA_UNROLL
      for (int v = 0; v < kVector; ++v) {
        const int n = cute::min(int(cute::get<1>(coords(v, column, row, step))), n_last);
        ys[c][v] = e.ys(n);
        bias[c][v] = e.bias_at(n);
        y_sums[c][v] = e.x_zero_point ? e.y_sums[n] : 0;
      }
    }

    template <class Acc, int N>
    CUTLASS_DEVICE cutlass::Array<Out, N> visit(int step, int row, int column, int,
                                                cutlass::Array<Acc, N> const& acc) {
      static_assert(N == kVector);
      // Consecutive fragments mostly share a row: reload its values only
      // when the row changes (the visiting order differs between thread maps).
      const int m = cute::get<0>(coords(0, column, row, step));
      if (m != m_) {
        const EpilogueParams& e = params->epilogue;
        m_ = m;
        xs = e.alpha;
        zp = 0;
        if (m < m_end) {
          xs = e.xs(m);
          if (kPerColumn && e.x_zero_point) zp = e.x_zero_point[m * e.x_zero_point_step];
        }
      }
      const int c = kPerColumn ? column : 0;
      if constexpr (kPerColumn) load_columns(c, row, column, step);
      cutlass::Array<Out, N> out;
      CUTLASS_PRAGMA_UNROLL
      for (int i = 0; i < N; ++i) {
        const int32_t corrected =
            kPerColumn ? zero_point_corrected(acc[i], zp, y_sums[c][i]) : acc[i];
        if constexpr (std::is_same_v<Out, int32_t>)
          out[i] = corrected;
        else if constexpr (kPerColumn)
          out[i] = Out(round_to<typename Native<Out>::type>(
              scaled_value(corrected, xs, ys[c][i], bias[c][i])));
        else
          out[i] =
              Out(round_to<typename Native<Out>::type>(scaled_value(corrected, xs, 1.0f, -0.0f)));
      }
      return out;
    }
  };

  template <class ProblemShape>
  CUTLASS_DEVICE auto get_callbacks(cutlass::gemm::GemmCoord tile, int thread_idx,
                                    ProblemShape problem_shape) {
    auto identity = cute::make_identity_tensor(problem_shape);
    auto coords = cute::group_modes<3, 6>(ThreadMap::partition(identity, thread_idx, tile));
    return Callbacks<decltype(coords)>(coords, params_, cute::get<0>(problem_shape));
  }
};

template <class Out_, bool kPerColumn, int TileM, int TileN, int TileK, int WarpM, int WarpN,
          int WarpK, int Stages, int AlignK>
struct TensorOpGemm {
  using Out = Out_;
  using Tile = cutlass::gemm::GemmShape<TileM, TileN, TileK>;
  using Warp = cutlass::gemm::GemmShape<WarpM, WarpN, WarpK>;
  // 16-byte stores: the runner pads out to N % 8 == 0 with aligned rows.
  static constexpr int kAlignOut = 128 / cutlass::sizeof_bits<Out>::value;
  // Must match the thread map the default epilogue derives from (Out,
  // kAlignOut) below, since the tree's nodes index its fragments with it.
  using ThreadMap =
      cutlass::epilogue::threadblock::OutputTileThreadLayout<Tile, Warp, Out, kAlignOut, 1>;
  using Store =
      cutlass::epilogue::threadblock::VisitorAuxStore<ThreadMap, Out,
                                                      cutlass::FloatRoundStyle::round_to_nearest,
                                                      cute::Stride<int64_t, cute::_1, int64_t>>;
  using Tree =
      cutlass::epilogue::threadblock::Sm80EVT<Store, EpilogueNode<ThreadMap, Out, kPerColumn>>;

  using Kernel = typename cutlass::gemm::kernel::DefaultGemmWithVisitor<
      int8_t, cutlass::layout::RowMajor, cutlass::ComplexTransform::kNone, AlignK,     // x: M x K
      int8_t, cutlass::layout::ColumnMajor, cutlass::ComplexTransform::kNone, AlignK,  // y^T: K x N
      Out, cutlass::layout::RowMajor, kAlignOut, int32_t, float, cutlass::arch::OpClassTensorOp,
      cutlass::arch::Sm80, Tile, Warp, cutlass::gemm::GemmShape<16, 8, 32>, Tree,
      cutlass::gemm::threadblock::GemmIdentityThreadblockSwizzle<8>, Stages,
      cutlass::arch::OpMultiplyAddSaturate, /*EpilogueStages=*/1>::GemmKernel;
  using Operator = cutlass::gemm::device::GemmUniversalAdapter<Kernel>;
};

template <typename Gemm>
Status run_gemm(const char* name, const DenseGemm& g, cudaStream_t stream) {
  using Out = typename Gemm::Out;
  const typename Gemm::Tree::Arguments tree{
      {g.epilogue, g.n_valid ? g.n_valid : g.n},
      {static_cast<Out*>(g.out), {g.ld_out, cute::_1{}, int64_t{0}}}};
  const typename Gemm::Operator::Arguments args(
      cutlass::gemm::GemmUniversalMode::kGemm, {g.m, g.n, g.k}, /*batch_count=*/1, tree, g.x, g.y,
      /*ptr_C=*/nullptr, /*ptr_D=*/nullptr, 0, 0, 0, 0, g.ld_x, g.ld_y, /*ldc=*/0, /*ldd=*/0);
  return run_cutlass<typename Gemm::Operator>(name, args, nullptr, stream);
}

template <class Out, int... Config>
Status run(const char* name, const DenseGemm& g, cudaStream_t stream) {
  const EpilogueParams& e = g.epilogue;
  if (e.y_scale || e.bias || e.x_zero_point)
    return run_gemm<TensorOpGemm<Out, true, Config...>>(name, g, stream);
  return run_gemm<TensorOpGemm<Out, false, Config...>>(name, g, stream);
}

}  // namespace gemm_int8::kernels::sm80

#define GEMM_INT8_SM80_STR_(x) #x
#define GEMM_INT8_SM80_STR(x) GEMM_INT8_SM80_STR_(x)

// One row of tile_configs.def becomes one exported launcher per output tag
// (GEMM_INT8_OUT, defined by the generated file before the row).
#define GEMM_INT8_SM80_CONFIG(name, tm, tn, tk, wm, wn, wk, stages, align_k)                      \
  namespace gemm_int8::kernels::sm80 {                                                            \
  Status GEMM_INT8_PASTE(launch_##name, GEMM_INT8_OUT)(const DenseGemm& g, cudaStream_t stream) { \
    using Out = cutlass_out::GEMM_INT8_OUT;                                                       \
    return run<Out, tm, tn, tk, wm, wn, wk, stages, align_k>(                                     \
        "sm80_" #name "_" GEMM_INT8_SM80_STR(GEMM_INT8_OUT), g, stream);                          \
  }                                                                                               \
  }
