// Row index -> launcher for the sm80 family, built from tile_configs.def.
#include "core/sm80_rows.h"
#include "kernels/launchers.h"

namespace gemm_int8::kernels {
namespace sm80 {

#define GEMM_INT8_SM80_CONFIG(name, tm, tn, tk, wm, wn, wk, stages, align_k) \
  Status launch_##name(const DenseGemm& g, cudaStream_t stream);
#include "kernels/sm80/tile_configs.def"
#undef GEMM_INT8_SM80_CONFIG

using Launcher = Status (*)(const DenseGemm&, cudaStream_t);
constexpr Launcher kLaunchers[] = {
#define GEMM_INT8_SM80_CONFIG(name, tm, tn, tk, wm, wn, wk, stages, align_k) &launch_##name,
#include "kernels/sm80/tile_configs.def"
#undef GEMM_INT8_SM80_CONFIG
};
static_assert(sizeof(kLaunchers) / sizeof(kLaunchers[0]) == gemm_int8::sm80::kNumRows);

// Compiled with the same -gencode flags as the rows, so it answers for them.
__global__ void probe_kernel() {}

}  // namespace sm80

cudaError_t probe_sm80() {
  cudaFuncAttributes attr;
  return cudaFuncGetAttributes(&attr, sm80::probe_kernel);
}

Status launch_sm80(int row, const DenseGemm& gemm, cudaStream_t stream) {
  if (row < 0 || row >= gemm_int8::sm80::kNumRows)
    return Status::value_error("sm80: no config row " + std::to_string(row));
  return sm80::kLaunchers[row](gemm, stream);
}

}  // namespace gemm_int8::kernels
