// gemm_int8::quantize, shared by the CPU and CUDA implementations: the
// outputs it allocates and the core problem over them. Dtypes, strides and
// the rule itself are the core's (gemm_int8/quantize.h).
#pragma once

#include <ATen/ATen.h>

#include <optional>
#include <string_view>
#include <tuple>

#include "gemm_int8/hadamard.h"
#include "gemm_int8/quantize.h"
#include "matmul_common.h"

namespace gemm_int8::torch_ops {

using QuantizeResult = std::tuple<at::Tensor, at::Tensor, std::optional<at::Tensor>>;
using QuantizeTransposeResult = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>;

// x (..., K) is viewed (or, for strides no view allows, copied) as (M, K).
// q has x's shape; scales (and zero points) broadcast against x: shape ()
// for "tensor", (..., 1) for "row", (1, ..., 1, K) for "col". With
// `transpose`, also qt (K, M) and its scales: (K, 1) for "row", () for "tensor".
struct QuantizeCall {
  at::Tensor x2d, q, scales, zero_points, qt, qt_scales;
  QuantizeProblem problem;

  QuantizeCall(const at::Tensor& x, std::string_view granularity, bool asymmetric,
               bool transpose = false, bool hadamard = false,
               Allocate allocate = &dispatched_empty);
  QuantizeResult result() const;
  QuantizeTransposeResult transpose_result() const;
};

// gemm_int8::hadamard: out (x's shape and dtype, contiguous) and the core
// problem over x viewed (or copied) as (M, n).
struct HadamardCall {
  at::Tensor x2d, out;
  HadamardProblem problem;

  explicit HadamardCall(const at::Tensor& x, Allocate allocate = &dispatched_empty);
};

}  // namespace gemm_int8::torch_ops
