// Row index -> launcher for the sm90 family, built from tile_configs.def.
#include "core/sm90_rows.h"
#include "kernels/common/out_tags.h"
#include "kernels/launchers.h"

namespace gemm_int8::kernels {
namespace sm90 {

#define GEMM_INT8_DECLARE(out, name)                                                      \
  Status launch_##name##_##out(const DenseGemm& g, void* workspace, cudaStream_t stream); \
  size_t workspace_##name##_##out(const DenseGemm& g);
#define GEMM_INT8_SM90_CONFIG(name, tm, tn, tk, cm, cn, schedule, swap, store) \
  GEMM_INT8_FOR_EACH_OUT(GEMM_INT8_DECLARE, name) GEMM_INT8_DECLARE(plain, name)
#include "kernels/sm90/tile_configs.def"
#undef GEMM_INT8_SM90_CONFIG
#undef GEMM_INT8_DECLARE

struct Entry {
  Status (*launch)(const DenseGemm&, void*, cudaStream_t);
  size_t (*workspace)(const DenseGemm&);
};
// One row per config, one column per output dtype (kOutDtypes order).
constexpr Entry kEntries[][kNumOutDtypes] = {
#define GEMM_INT8_ENTRY(out, name) {&launch_##name##_##out, &workspace_##name##_##out},
#define GEMM_INT8_SM90_CONFIG(name, tm, tn, tk, cm, cn, schedule, swap, store) \
  {GEMM_INT8_FOR_EACH_OUT(GEMM_INT8_ENTRY, name)},
#include "kernels/sm90/tile_configs.def"
#undef GEMM_INT8_SM90_CONFIG
#undef GEMM_INT8_ENTRY
};
static_assert(sizeof(kEntries) / sizeof(kEntries[0]) == gemm_int8::sm90::kNumRows);
// The plain bfloat16 matmul's kernels (sm90_plain.cuh), one per row.
constexpr Entry kPlainEntries[] = {
#define GEMM_INT8_SM90_CONFIG(name, tm, tn, tk, cm, cn, schedule, swap, store) \
  {&launch_##name##_plain, &workspace_##name##_plain},
#include "kernels/sm90/tile_configs.def"
#undef GEMM_INT8_SM90_CONFIG
};

// Only a scale for the whole tensor (alpha or one x_scale value).
bool alpha_only(const EpilogueParams& e) {
  return !e.y_scale && !e.bias && !e.x_zero_point && (!e.x_scale || e.x_scale_step == 0);
}

const Entry* entry(int row, const DenseGemm& g) {
  const int column = out_dtype_index(g.out_dtype);
  if (row < 0 || row >= gemm_int8::sm90::kNumRows || column < 0) return nullptr;
  if (g.out_dtype == DType::kBFloat16 && alpha_only(g.epilogue)) return &kPlainEntries[row];
  return &kEntries[row][column];
}

// Compiled with the same -gencode flags as the rows, so it answers for them.
__global__ void probe_kernel() {}

}  // namespace sm90

cudaError_t probe_sm90() {
  cudaFuncAttributes attr;
  return cudaFuncGetAttributes(&attr, sm90::probe_kernel);
}

size_t sm90_workspace_size(int row, const DenseGemm& gemm) {
  const sm90::Entry* e = sm90::entry(row, gemm);
  return e ? e->workspace(gemm) : 0;
}

Status launch_sm90(int row, const DenseGemm& gemm, void* workspace, cudaStream_t stream) {
  const sm90::Entry* e = sm90::entry(row, gemm);
  if (!e)
    return Status::value_error("sm90: no config row " + std::to_string(row) + " for out dtype " +
                               dtype_name(gemm.out_dtype));
  return e->launch(gemm, workspace, stream);
}

}  // namespace gemm_int8::kernels
