// Row index -> launcher for the sm90 family, built from tile_configs.def.
#include "core/sm90_rows.h"
#include "kernels/launchers.h"

namespace gemm_int8::kernels {
namespace sm90 {

#define GEMM_INT8_SM90_CONFIG(name, tm, tn, tk, cm, cn, schedule, swap, store)    \
  Status launch_##name(const DenseGemm& g, void* workspace, cudaStream_t stream); \
  size_t workspace_##name(const DenseGemm& g);
#include "kernels/sm90/tile_configs.def"
#undef GEMM_INT8_SM90_CONFIG

struct Entry {
  Status (*launch)(const DenseGemm&, void*, cudaStream_t);
  size_t (*workspace)(const DenseGemm&);
};
constexpr Entry kEntries[] = {
#define GEMM_INT8_SM90_CONFIG(name, tm, tn, tk, cm, cn, schedule, swap, store) \
  {&launch_##name, &workspace_##name},
#include "kernels/sm90/tile_configs.def"
#undef GEMM_INT8_SM90_CONFIG
};
static_assert(sizeof(kEntries) / sizeof(kEntries[0]) == gemm_int8::sm90::kNumRows);

// Compiled with the same -gencode flags as the rows, so it answers for them.
__global__ void probe_kernel() {}

}  // namespace sm90

cudaError_t probe_sm90() {
  cudaFuncAttributes attr;
  return cudaFuncGetAttributes(&attr, sm90::probe_kernel);
}

size_t sm90_workspace_size(int row, const DenseGemm& gemm) {
  if (row < 0 || row >= gemm_int8::sm90::kNumRows) return 0;
  return sm90::kEntries[row].workspace(gemm);
}

Status launch_sm90(int row, const DenseGemm& gemm, void* workspace, cudaStream_t stream) {
  if (row < 0 || row >= gemm_int8::sm90::kNumRows)
    return Status::value_error("sm90: no config row " + std::to_string(row));
  return sm90::kEntries[row].launch(gemm, workspace, stream);
}

}  // namespace gemm_int8::kernels
