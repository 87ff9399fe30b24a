// A linear layer on float activations quantized per token: the problem that
// `quantize(x, "row")` followed by `scaled_mm` solves in two launches, stated
// once so that decode-sized instances can run as one kernel
// (gemm_int8/linear_cuda.h). Plain data and pure functions: no CUDA.
#pragma once

#include "gemm_int8/config.h"
#include "gemm_int8/problem.h"
#include "gemm_int8/status.h"

namespace gemm_int8 {

// out[m, n] = xs[m] * weight_scale[n] * (q . weight^T)[m, n] + bias[n], where
// (q, xs) = quantize(x, "row") (symmetric, gemm_int8/quantize.h): the bits of
// that quantize followed by scaled_mm with both scales and the bias.
struct LinearProblem {
  MatrixView x;             // float32, bfloat16 or float16, M x K
  MatrixView weight;        // int8, N x K
  VectorView weight_scale;  // float32, size N or 1
  VectorView bias;          // float32, size N, or absent
  MutableMatrixView out;    // M x N, x's dtype, rows of unit column stride

  int64_t m() const { return x.rows; }
  int64_t n() const { return weight.rows; }
  int64_t k() const { return x.cols; }
};

// Dtypes, shapes, strides, devices and aliasing; messages name x, weight,
// weight_scale, bias and out.
Status validate_linear(const LinearProblem& problem);

// Rows of x one fused launch takes (decode of one or two tokens).
constexpr int64_t kFusedLinearMaxRows = 2;

// The gemv row that runs a validated problem on `device` as one kernel, or
// -1 when it must run as quantize + scaled_mm: no sm_80-family kernels for
// this device, more than kFusedLinearMaxRows rows, rows of x or the weight
// not 16-byte aligned, K % 16 != 0, or x larger than the kernel keeps in
// shared memory. Pure: the caller reads the environment
// (GEMM_INT8_FUSED_LINEAR=0 turns fusion off; gemm_int8/linear_cuda.h).
int fused_linear_row(const LinearProblem& problem, const DeviceInfo& device);

}  // namespace gemm_int8
