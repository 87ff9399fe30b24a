// Names for the rows of csrc/kernels/skinny/tile_configs.def.
#pragma once

namespace gemm_int8::skinny {

enum Row : int {
#define GEMM_INT8_SKINNY_CONFIG(name, row_tiles, col_tiles, warps, unroll) name,
#include "kernels/skinny/tile_configs.def"
#undef GEMM_INT8_SKINNY_CONFIG
  kNumRows
};

}  // namespace gemm_int8::skinny
