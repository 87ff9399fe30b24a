// The dense factors of the Hadamard rotation (gemm_int8/hadamard.h): symmetric
// Hadamard matrices of orders 12, 20 and 28 (Paley's second construction over
// GF(5), GF(9) and GF(13)). Shared by the host code and the CUDA kernel, as a
// constexpr function so that the kernel's fully unrolled sums for one order
// compile to plain additions and subtractions. tests/cpp/test_hadamard.cpp
// checks H H = m I and the symmetry.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define GEMM_INT8_HADAMARD_HD __host__ __device__ __forceinline__
#else
#define GEMM_INT8_HADAMARD_HD inline
#endif

namespace gemm_int8 {

// Row i of H_m (m = 12, 20 or 28) as a bit mask: bit j set where H_m[i][j] = -1.
GEMM_INT8_HADAMARD_HD constexpr uint32_t hadamard_sign_row(int m, int i) {
  constexpr uint32_t rows12[12] = {0x0000002, 0x0000aab, 0x00003c8, 0x000096e,
                                   0x0000f20, 0x00005ba, 0x0000c8c, 0x00006e6,
                                   0x000023c, 0x0000b96, 0x00008f0, 0x0000e5a};
  constexpr uint32_t rows20[20] = {0x0000002, 0x00aaaab, 0x00f3c08, 0x00596ae, 0x00cf320,
                                   0x00659ba, 0x003cf80, 0x00965ea, 0x00f02f0, 0x005ab5a,
                                   0x00cc8cc, 0x0066e66, 0x003e03c, 0x0097a96, 0x000bcf0,
                                   0x00ad65a, 0x00233cc, 0x00b9966, 0x0080f3c, 0x00ea596};
  constexpr uint32_t rows28[28] = {0x0000002, 0xaaaaaab, 0x30ff0c8, 0x9a55a6e, 0xc3fc320, 0x69569ba,
                                   0x0ff0c8c, 0xa55a6e6, 0x3fc3230, 0x9569b9a, 0xff0c8c0, 0x55a6e6a,
                                   0xfc3230c, 0x569b9a6, 0xf0c8c3c, 0x5a6e696, 0xc3230fc, 0x69b9a56,
                                   0x0c8c3fc, 0xa6e6956, 0x3230ff0, 0x9b9a55a, 0xc8c3fc0, 0x6e6956a,
                                   0x230ff0c, 0xb9a55a6, 0x8c3fc30, 0xe69569a};
  return m == 12 ? rows12[i] : m == 20 ? rows20[i] : rows28[i];
}

}  // namespace gemm_int8

#undef GEMM_INT8_HADAMARD_HD
