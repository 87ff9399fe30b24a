// Shared by the CPU and CUDA implementations: tensor -> core view
// conversion, Status -> Python exception, and the (..., K) flattening rules.
// Everything the core can check (dtypes, sizes, devices, strides, aliasing)
// is left to it; this layer checks only tensor ranks and shapes.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <optional>

#include "gemm_int8/linear.h"
#include "gemm_int8/problem.h"
#include "gemm_int8/status.h"

namespace gemm_int8::torch_ops {

// Throws the Python exception that matches the status code.
void throw_if_error(const Status& status);

// The epilogue operands of one call, as the ops receive them (null = absent).
struct EpilogueArgs {
  double alpha = 1.0;
  const at::Tensor* x_scale = nullptr;
  const at::Tensor* y_scale = nullptr;
  const at::Tensor* bias = nullptr;
  const at::Tensor* x_zero_point = nullptr;
  const at::Tensor* y_sums = nullptr;
};

inline const at::Tensor* optional_arg(const std::optional<at::Tensor>& t) {
  return t.has_value() ? &*t : nullptr;
}

// Runs `compute` on the 2-D problem behind out = epilogue(x @ y.T), where x
// is (..., K), y is (N, K) and out is (..., N).
using Compute = std::function<Status(const GemmProblem&)>;

// Allocates an op's output. at::empty goes through the dispatcher again; a
// device's impl may pass its allocator directly (on CUDA 0.3-0.6 us of an
// eager call on the H200's host).
using Allocate = at::Tensor (*)(at::IntArrayRef shape, const at::TensorOptions& options);
inline at::Tensor dispatched_empty(at::IntArrayRef shape, const at::TensorOptions& options) {
  return at::empty(shape, options);
}
void gemm_into(const at::Tensor& x, const at::Tensor& y, const EpilogueArgs& epilogue,
               at::Tensor& out, const Compute& compute);
// The same into a new tensor of out_dtype (bfloat16 if absent).
at::Tensor gemm_new(const at::Tensor& x, const at::Tensor& y, const EpilogueArgs& epilogue,
                    std::optional<at::ScalarType> out_dtype, const Compute& compute,
                    Allocate allocate = &dispatched_empty);

// (..., K) as (M, K): the tensor itself when 2-D (a view costs 0.4-0.7 us of an
// eager call on the H200's host), else a view where the strides allow, else a copy.
at::Tensor as_2d(const at::Tensor& t);

// A 2-D tensor as a core view; `name` labels dtype and device errors.
MatrixView matrix_view(const at::Tensor& t, const char* name);
MutableMatrixView mutable_matrix_view(const at::Tensor& t, const char* name);

// quantized_linear's arguments as a LinearProblem: x (..., K) viewed as
// (M, K) (a copy only when its strides do not allow a view) and *out a new
// tensor of x's dtype and shape (..., N), viewed as (M, N).
LinearProblem linear_problem(const at::Tensor& x, const at::Tensor& weight,
                             const at::Tensor& weight_scale, const at::Tensor* bias,
                             at::Tensor* out, Allocate allocate = &dispatched_empty);

// y (N, K) as a core view for row_sums, and the int32 (N,) result tensor.
MatrixView row_sums_input(const at::Tensor& y);
at::Tensor row_sums_output(const at::Tensor& y);

}  // namespace gemm_int8::torch_ops
