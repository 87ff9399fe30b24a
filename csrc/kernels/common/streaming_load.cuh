// The weight load of the bandwidth-bound decode kernels (skinny, gemv).
#pragma once

#include <cstdint>

namespace gemm_int8::kernels {

// 16 bytes read once: past L1 (x and the partial sums keep it), with a
// 256-byte L2 prefetch hint for the rest of the run.
__device__ __forceinline__ uint4 load_streaming(const int8_t* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.L2::256B.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

}  // namespace gemm_int8::kernels
