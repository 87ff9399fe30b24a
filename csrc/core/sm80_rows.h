// Names for the rows of csrc/kernels/sm80/tile_configs.def, so that dispatch
// boundaries refer to configs by name rather than by position.
#pragma once

namespace gemm_int8::sm80 {

enum Row : int {
#define GEMM_INT8_SM80_CONFIG(name, tm, tn, tk, wm, wn, wk, stages, align_k) name,
#include "kernels/sm80/tile_configs.def"
#undef GEMM_INT8_SM80_CONFIG
  kNumRows
};

}  // namespace gemm_int8::sm80
