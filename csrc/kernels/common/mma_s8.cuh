// One int8 tensor-core step of the hand-written skinny kernel:
// c += A (16 x 32, row-major) . B (32 x 8, column-major),
// with the operand registers as mma.sync.m16n8k32 lays them out.
#pragma once

#include <cstdint>

namespace gemm_int8::kernels {

__device__ __forceinline__ void mma_s8(int (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2,
                                       uint32_t a3, uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};"
      : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

}  // namespace gemm_int8::kernels
