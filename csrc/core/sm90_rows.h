// Names for the rows of csrc/kernels/sm90/tile_configs.def.
#pragma once

namespace gemm_int8::sm90 {

enum Row : int {
#define GEMM_INT8_SM90_CONFIG(name, tm, tn, tk, cm, cn, schedule, swap, store) name,
#include "kernels/sm90/tile_configs.def"
#undef GEMM_INT8_SM90_CONFIG
  kNumRows
};

}  // namespace gemm_int8::sm90
