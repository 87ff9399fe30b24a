// Row sums of an int8 matrix: the y_sums operand of a zero-point epilogue
// (out = xs * ys * (x . y - x_zp * y_sums) + bias). Torch-free.
#pragma once

#include <cstdint>

#include "gemm_int8/problem.h"
#include "gemm_int8/status.h"

namespace gemm_int8 {

// Rows of more than 2^24 int8 values could overflow int32.
constexpr int64_t kMaxRowSumCols = int64_t{1} << 24;

// Checks everything row_sums_cpu and row_sums_cuda need except the device
// kind: y is int8 with a valid shape and strides, out is aligned for int32 and
// does not overlap y. Messages name the argument (y, out).
Status validate_row_sums(const MatrixView& y, const int32_t* out);

// out[r] = sum over c of y[r, c], exact in int32; out holds y.rows values.
Status row_sums_cpu(const MatrixView& y, int32_t* out);

}  // namespace gemm_int8
