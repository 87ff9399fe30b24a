// The sm90 family: CUTLASS 3.x int8 GEMM on Hopper (TMA loads, wgmma,
// warp-specialized persistent kernels, thread-block clusters) with the fused
// epilogue of sm90_epilogues.cuh. Included by one generated translation unit
// per row of tile_configs.def and output dtype.
#pragma once

#include <cutlass/cutlass.h>
#include <cutlass/gemm/device/gemm_universal_adapter.h>

#include <cute/tensor.hpp>
#include <cutlass/gemm/collective/collective_builder.hpp>
#include <cutlass/gemm/kernel/gemm_universal.hpp>
#include <cutlass/gemm/kernel/tile_scheduler.hpp>
#include <type_traits>

#include "kernels/common/out_tags.h"
#include "kernels/common/shared_memory_limit.h"
#include "kernels/cutlass_run.h"
#include "kernels/sm90/sm90_epilogues.cuh"

namespace gemm_int8::kernels::sm90 {

// Runs a CUTLASS 3.x GemmUniversalAdapter as its initialize + run would, less
// two host costs they pay on every call: the kernel's dynamic shared-memory
// limit is raised once per device, and a cluster launch sets no function
// attribute (the adapter's ClusterLauncher sets NonPortableClusterSizeAllowed
// each time; our clusters are portable). On the H200's host a 2x1-cluster
// launch took 8.8 us through the adapter and 5.6 us this way
// (docs/performance.md, "Issue 12 — host overhead, second round").
template <typename Adapter>
Status run_cutlass3(const char* name, const typename Adapter::Arguments& args, void* workspace,
                    cudaStream_t stream, int device, const typename Adapter::Arguments& check) {
  using Kernel = typename Adapter::GemmKernel;
  using Cluster = typename Kernel::DispatchPolicy::ClusterShape;
  static_assert(cute::size(Cluster{}) <= 8, "clusters above 8 CTAs are not portable");
  constexpr int kSharedBytes = static_cast<int>(Kernel::SharedStorageSize);
  cutlass::Status st = Adapter::can_implement(check);
  if (st == cutlass::Status::kSuccess)
    st = Kernel::initialize_workspace(args, workspace, stream, nullptr);
  if (st != cutlass::Status::kSuccess) return cutlass_error(name, st);
  if constexpr (kSharedBytes >= (48 << 10)) {
    if (raise_shared_memory_limit_once<cutlass::device_kernel<Kernel>>(device, kSharedBytes) !=
        cudaSuccess)
      return cutlass_error(name, cutlass::Status::kErrorInternal);
  }
  const typename Kernel::Params params = Kernel::to_underlying_arguments(args, workspace);
  const dim3 grid = Adapter::get_grid_shape(params);
  const dim3 cluster(cute::size<0>(Cluster{}), cute::size<1>(Cluster{}), cute::size<2>(Cluster{}));
  if (grid.x % cluster.x || grid.y % cluster.y || grid.z % cluster.z)
    return Status::cuda_error(std::string(name) + ": grid is not a whole number of clusters");
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeClusterDimension;
  attribute.val.clusterDim.x = cluster.x;
  attribute.val.clusterDim.y = cluster.y;
  attribute.val.clusterDim.z = cluster.z;
  const cudaLaunchConfig_t config{grid,         Kernel::get_block_shape(),
                                  kSharedBytes, stream,
                                  &attribute,   cute::size(Cluster{}) > 1 ? 1u : 0u};
  (void)cudaLaunchKernelEx(&config, cutlass::device_kernel<Kernel>, params);
  return launch_status(name);
}

struct Cooperative {
  using Mainloop = cutlass::gemm::KernelTmaWarpSpecializedCooperative;
  using Epilogue = cutlass::epilogue::TmaWarpSpecializedCooperative;
};
struct Pingpong {
  using Mainloop = cutlass::gemm::KernelTmaWarpSpecializedPingpong;
  using Epilogue = cutlass::epilogue::TmaWarpSpecialized;
};
using Persistent = cutlass::gemm::PersistentScheduler;

template <int TileM, int TileN, int TileK, int ClusterM, int ClusterN, class Schedule, bool SwapAB,
          template <class, bool> class StoreKind, class ElementOut>
struct TmaGemm {
  using Store = StoreKind<ElementOut, SwapAB>;
  using TileShape = cute::Shape<cute::Int<TileM>, cute::Int<TileN>, cute::Int<TileK>>;
  using ClusterShape = cute::Shape<cute::Int<ClusterM>, cute::Int<ClusterN>, cute::_1>;
  // Swapped, the kernel's D (N x M) is out read column-major.
  using LayoutD =
      std::conditional_t<SwapAB, cutlass::layout::ColumnMajor, cutlass::layout::RowMajor>;

  using CollectiveEpilogue =
      typename Store::template Collective<TileShape, ClusterShape, typename Schedule::Epilogue,
                                          LayoutD>;

  using CollectiveMainloop = typename cutlass::gemm::collective::CollectiveBuilder<
      cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, int8_t, cutlass::layout::RowMajor,
      kDenseAlignK, int8_t, cutlass::layout::ColumnMajor, kDenseAlignK, int32_t, TileShape,
      ClusterShape,
      cutlass::gemm::collective::StageCountAutoCarveout<static_cast<int>(
          sizeof(typename CollectiveEpilogue::SharedStorage))>,
      typename Schedule::Mainloop>::CollectiveOp;

  using Kernel =
      cutlass::gemm::kernel::GemmUniversal<cute::Shape<int, int, int, int>, CollectiveMainloop,
                                           CollectiveEpilogue, Persistent>;
  using Gemm = cutlass::gemm::device::GemmUniversalAdapter<Kernel>;

  static typename Gemm::Arguments arguments(const DenseGemm& g) {
    typename Kernel::StrideA stride_a{};
    typename Kernel::StrideB stride_b{};
    typename Kernel::StrideD stride_d{};
    cute::get<0>(stride_a) = SwapAB ? g.ld_y : g.ld_x;
    cute::get<0>(stride_b) = SwapAB ? g.ld_x : g.ld_y;
    cute::get<SwapAB ? 1 : 0>(stride_d) = g.ld_out;
    const int8_t* a = SwapAB ? g.y : g.x;
    const int8_t* b = SwapAB ? g.x : g.y;
    cutlass::KernelHardwareInfo hw;
    hw.device_id = g.device;
    hw.sm_count = g.sm_count;
    typename CollectiveEpilogue::Arguments epilogue{};
    Store::template set<TileShape>(epilogue, g, stride_d);
    return typename Gemm::Arguments{cutlass::gemm::GemmUniversalMode::kGemm,
                                    {SwapAB ? g.n : g.m, SwapAB ? g.m : g.n, g.k, 1},
                                    {a, stride_a, b, stride_b},
                                    epilogue,
                                    hw};
  }

  static size_t workspace_size(const DenseGemm& g) {
    return Gemm::get_workspace_size(arguments(g));
  }

  // CUTLASS's can_implement asks for an N and a K of whole 16-byte units
  // because they are the contiguous extents of TMA loads and stores; the
  // hardware needs only 16-byte bases and strides, clips a ragged N in loads
  // and stores and zero-fills loads past K. The runner guarantees the strides
  // (operands of another pitch are staged, out with a 16-byte pitch), so the
  // check runs on N and K rounded up and the kernel on the real ones: a
  // ragged N or K is never padded in place.
  static Status run(const char* name, const DenseGemm& g, void* workspace, cudaStream_t stream) {
    DenseGemm aligned = g;
    aligned.n = (g.n + kDenseAlignN - 1) / kDenseAlignN * kDenseAlignN;
    aligned.k = (g.k + kDenseAlignK - 1) / kDenseAlignK * kDenseAlignK;
    const typename Gemm::Arguments check = arguments(aligned);
    return run_cutlass3<Gemm>(name, arguments(g), workspace, stream, g.device, check);
  }
};

}  // namespace gemm_int8::kernels::sm90

// One row of tile_configs.def and the output tag GEMM_INT8_OUT (defined by
// the generated file) become one launcher and one workspace query.
#define GEMM_INT8_SM90_CONFIG(name, tm, tn, tk, cm, cn, schedule, swap, store)                    \
  namespace gemm_int8::kernels::sm90 {                                                            \
  using GEMM_INT8_PASTE(Gemm_##name, GEMM_INT8_OUT) =                                             \
      TmaGemm<tm, tn, tk, cm, cn, schedule, swap, store, cutlass_out::GEMM_INT8_OUT>;             \
  Status GEMM_INT8_PASTE(launch_##name, GEMM_INT8_OUT)(const DenseGemm& g, void* workspace,       \
                                                       cudaStream_t stream) {                     \
    return GEMM_INT8_PASTE(Gemm_##name, GEMM_INT8_OUT)::run("sm90_" #name, g, workspace, stream); \
  }                                                                                               \
  size_t GEMM_INT8_PASTE(workspace_##name, GEMM_INT8_OUT)(const DenseGemm& g) {                   \
    return GEMM_INT8_PASTE(Gemm_##name, GEMM_INT8_OUT)::workspace_size(g);                        \
  }                                                                                               \
  }
