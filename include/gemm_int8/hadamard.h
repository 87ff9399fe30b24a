// The normalized Hadamard rotation of HALO-style int8 training and of
// rotated W8A8 inference: each row x (n values) becomes
//
//   y = x . H_n / sqrt(n),      H_n = H_m (x) H_p  (Kronecker), p = 2^k,
//
// with H_p Sylvester's matrix and H_m, m in {1, 12, 20, 28}, a symmetric
// Hadamard matrix (Paley's second construction for q = 5, 9, 13), so every
// n = m * 2^k of real LLMs is covered (4096 = 2^12, 14336 = 28 * 2^9,
// 12288 = 12 * 2^10, 5120 = 20 * 2^8). H_n is symmetric and H_n H_n = n I:
// the rotation is its own inverse, and (x H)(w H)^T = x w^T, so rotating both
// operands of a GEMM along K leaves the product unchanged while spreading
// outliers over the row.
//
// Arithmetic (docs/design.md, "Hadamard rotation"), the same on every path
// so that results match bit for bit: x widened to float32; the Sylvester
// butterflies (u, v) -> (u + v, u - v) for h = 1, 2, ..., p / 2 over blocks
// of 2h; then per column b of the (m, p) view, y[a'] = sum over a = 0..m-1,
// in that order, of +-x[a]; then one multiply by the float32 nearest
// 1 / sqrt(n). Every operation is one float32 rounding.
#pragma once

#include <cstdint>

#include "gemm_int8/problem.h"
#include "gemm_int8/status.h"

namespace gemm_int8 {

// n = m * 2^k with m in {1, 12, 20, 28}; n <= kMaxHadamardSize.
struct HadamardSize {
  int m = 1;       // the dense factor's order
  int log2_p = 0;  // p = 2^log2_p, the Sylvester factor's order
  float norm = 1;  // float32(1 / sqrt(n))
};

// Rows up to this long rotate in one CTA's shared memory on the GPU.
constexpr int64_t kMaxHadamardSize = 32768;

// Factors n (a clear error names the supported sizes when there is none).
Status hadamard_size(int64_t n, HadamardSize* size);

// Bit a' of row a is set where H_m[a][a'] = -1 (m = 12, 20 or 28).
const uint32_t* hadamard_signs(int m);

// out = rotated x (each row of x.cols values), in out's float dtype with one
// rounding from float32.
struct HadamardProblem {
  MatrixView x;           // float32, bfloat16 or float16; any strides
  MutableMatrixView out;  // float32, bfloat16 or float16, x's shape, any strides
};

Status validate_hadamard(const HadamardProblem& problem);

// The rotation on host memory (single-threaded).
Status hadamard_cpu(const HadamardProblem& problem);

// Rotates one row of n = size's values in place (the rule above).
void hadamard_row(float* row, const HadamardSize& size);

}  // namespace gemm_int8
