// (Row, output dtype) -> launcher for the sm80 family, built from
// tile_configs.def and the output tags.
#include <string>

#include "core/sm80_rows.h"
#include "kernels/common/config_rows.h"
#include "kernels/common/out_tags.h"
#include "kernels/launchers.h"

namespace gemm_int8::kernels {
namespace sm80 {

#define GEMM_INT8_SM80_DECLARE(out, name) \
  Status launch_##name##_##out(const DenseGemm& g, cudaStream_t stream);
#define GEMM_INT8_SM80_CONFIG(name, tm, tn, tk, wm, wn, wk, stages, align_k) \
  GEMM_INT8_FOR_EACH_OUT(GEMM_INT8_SM80_DECLARE, name)
#include "kernels/sm80/tile_configs.def"
#undef GEMM_INT8_SM80_CONFIG
#undef GEMM_INT8_SM80_DECLARE

using Launcher = Status (*)(const DenseGemm&, cudaStream_t);
// Columns in the order of kOutDtypes, which must be the order of the tags.
static_assert(kOutDtypes[0] == DType::kBFloat16 && kOutDtypes[1] == DType::kFloat16 &&
              kOutDtypes[2] == DType::kFloat32 && kOutDtypes[3] == DType::kInt32);
constexpr Launcher kLaunchers[][kNumOutDtypes] = {
#define GEMM_INT8_SM80_ENTRY(out, name) &launch_##name##_##out,
#define GEMM_INT8_SM80_CONFIG(name, tm, tn, tk, wm, wn, wk, stages, align_k) \
  {GEMM_INT8_FOR_EACH_OUT(GEMM_INT8_SM80_ENTRY, name)},
#include "kernels/sm80/tile_configs.def"
#undef GEMM_INT8_SM80_CONFIG
#undef GEMM_INT8_SM80_ENTRY
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
  GEMM_INT8_RETURN_IF_ERROR(check_config_row("sm80", row, gemm_int8::sm80::kNumRows));
  const int column = out_dtype_index(gemm.out_dtype);
  if (column < 0) return Status::type_error("sm80: no kernel for this output dtype");
  return sm80::kLaunchers[row][column](gemm, stream);
}

}  // namespace gemm_int8::kernels
