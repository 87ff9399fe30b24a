// Launchers of the fused linear rows: one instantiation per row and input
// dtype (the output has the input's dtype).
#include <mutex>
#include <string>

#include "kernels/fused_linear/fused_linear.cuh"
#include "kernels/fused_linear/launcher.h"

namespace gemm_int8::kernels {
namespace fused_linear {
namespace {

using gemm_int8::fused_linear::kMaxSharedBytes;
using gemm_int8::fused_linear::kNumRows;
using gemm_int8::fused_linear::kRows;
using gemm_int8::fused_linear::shared_layout;

// Raises a kernel's dynamic shared-memory limit once per device (function
// attributes are per device). Kernel is one instantiation: the flags are its own.
template <auto Kernel>
cudaError_t allow_shared_memory(int device) {
  constexpr int kMaxDevices = 64;
  static std::mutex mutex;
  static bool done[kMaxDevices] = {};
  std::lock_guard<std::mutex> lock(mutex);
  if (device >= 0 && device < kMaxDevices && done[device]) return cudaSuccess;
  const cudaError_t err = cudaFuncSetAttribute(Kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                               static_cast<int>(kMaxSharedBytes));
  if (err == cudaSuccess && device >= 0 && device < kMaxDevices) done[device] = true;
  return err;
}

template <int ColTiles, int Consumers, int SlabBytes, int Stages, class In>
Status launch(int row, const FusedLinearArgs& a, cudaStream_t stream) {
  constexpr auto kernel = fused_linear_kernel<ColTiles, Consumers, SlabBytes, Stages, In, In>;
  const Params<In, In> p{a.m,
                         a.n,
                         a.k,
                         static_cast<const In*>(a.x),
                         a.ld_x,
                         a.w,
                         a.ld_w,
                         static_cast<In*>(a.out),
                         a.ld_out,
                         a.epilogue,
                         shared_layout(kRows[row], a.m, a.k)};
  cudaError_t err = allow_shared_memory<kernel>(a.device);
  if (err == cudaSuccess) {
    const int64_t tiles = (int64_t{a.n} + kTileRows - 1) / kTileRows;
    const dim3 grid(static_cast<unsigned>(tiles < a.sm_count ? tiles : a.sm_count));
    err = pdl_launch(kernel, grid, dim3((Consumers + 1) * 32), static_cast<size_t>(p.smem.total),
                     stream, p);
  }
  if (err != cudaSuccess)
    return Status::cuda_error(std::string("fused_linear: launch failed: ") +
                              cudaGetErrorString(err));
  return Status{};
}

template <int ColTiles, int Consumers, int SlabBytes, int Stages>
Status launch_row(int row, const FusedLinearArgs& a, cudaStream_t stream) {
  switch (a.x_dtype) {
    case DType::kBFloat16:
      return launch<ColTiles, Consumers, SlabBytes, Stages, __nv_bfloat16>(row, a, stream);
    case DType::kFloat16:
      return launch<ColTiles, Consumers, SlabBytes, Stages, __half>(row, a, stream);
    case DType::kFloat32:
      return launch<ColTiles, Consumers, SlabBytes, Stages, float>(row, a, stream);
    default: return Status::type_error("x: fused_linear takes float32, bfloat16 or float16");
  }
}

using Launcher = Status (*)(int, const FusedLinearArgs&, cudaStream_t);
constexpr Launcher kLaunchers[] = {
#define GEMM_INT8_FUSED_LINEAR_CONFIG(name, col_tiles, consumers, slab_bytes, stages) \
  &launch_row<col_tiles, consumers, slab_bytes, stages>,
#include "kernels/fused_linear/tile_configs.def"
#undef GEMM_INT8_FUSED_LINEAR_CONFIG
};
static_assert(sizeof(kLaunchers) / sizeof(kLaunchers[0]) == kNumRows);

}  // namespace
}  // namespace fused_linear

Status launch_fused_linear(int row, const FusedLinearArgs& args, cudaStream_t stream) {
  if (row < 0 || row >= gemm_int8::fused_linear::kNumRows)
    return Status::value_error("fused_linear: no config row " + std::to_string(row));
  return fused_linear::kLaunchers[row](row, args, stream);
}

}  // namespace gemm_int8::kernels
