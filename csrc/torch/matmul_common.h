// Shared by the CPU and CUDA implementations: tensor -> core view
// conversion, Status -> Python exception, and the (..., K) flattening rules.
#pragma once

#include <ATen/ATen.h>

#include <functional>

#include "gemm_int8/problem.h"
#include "gemm_int8/status.h"

namespace gemm_int8::torch_ops {

// Throws the Python exception that matches the status code.
void throw_if_error(const Status& status);

// Runs `compute` on the 2-D problem behind matmul(x, y, alpha) -> out, where
// x is (..., K), y is (N, K) and out is (..., N). `compute` only sees
// validated-shape tensors; the core validates everything else.
using Compute = std::function<Status(const GemmProblem&)>;
at::Tensor& matmul_into(const at::Tensor& x, const at::Tensor& y, double alpha, at::Tensor& out,
                        const Compute& compute);
at::Tensor matmul_new(const at::Tensor& x, const at::Tensor& y, double alpha,
                      const Compute& compute);

}  // namespace gemm_int8::torch_ops
