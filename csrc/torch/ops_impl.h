// The op bodies shared by ops_cpu.cpp and ops_cuda.cpp, templated on the
// device's compute function, so each dispatch key registers the same code.
#pragma once

#include <optional>
#include <string>

#include "matmul_common.h"
#include "quantize_common.h"

namespace gemm_int8::torch_ops {

using OptTensor = std::optional<at::Tensor>;

template <Status (*compute)(const GemmProblem&), Allocate allocate = &dispatched_empty>
struct GemmOps {
  static at::Tensor matmul(const at::Tensor& x, const at::Tensor& y, double alpha,
                           std::optional<at::ScalarType> out_dtype) {
    return gemm_new(x, y, {alpha}, out_dtype, compute, allocate);
  }

  static void matmul_out(const at::Tensor& x, const at::Tensor& y, double alpha, at::Tensor& out) {
    gemm_into(x, y, {alpha}, out, compute);
  }

  static at::Tensor scaled_mm(const at::Tensor& x, const at::Tensor& y, const OptTensor& x_scale,
                              const OptTensor& y_scale, const OptTensor& bias,
                              const OptTensor& x_zero_point, const OptTensor& y_sums,
                              std::optional<at::ScalarType> out_dtype) {
    return gemm_new(x, y, args(x_scale, y_scale, bias, x_zero_point, y_sums), out_dtype, compute,
                    allocate);
  }

  static void scaled_mm_out(const at::Tensor& x, const at::Tensor& y, const OptTensor& x_scale,
                            const OptTensor& y_scale, const OptTensor& bias,
                            const OptTensor& x_zero_point, const OptTensor& y_sums,
                            at::Tensor& out) {
    gemm_into(x, y, args(x_scale, y_scale, bias, x_zero_point, y_sums), out, compute);
  }

  // gemm_int8_CUDA::int8_matmul: the original library's bfloat16 matmul.
  static at::Tensor int8_matmul(const at::Tensor& a, const at::Tensor& b, double alpha) {
    return gemm_new(a, b, {alpha}, std::nullopt, compute, allocate);
  }

 private:
  static EpilogueArgs args(const OptTensor& x_scale, const OptTensor& y_scale,
                           const OptTensor& bias, const OptTensor& x_zero_point,
                           const OptTensor& y_sums) {
    return {1.0,
            optional_arg(x_scale),
            optional_arg(y_scale),
            optional_arg(bias),
            optional_arg(x_zero_point),
            optional_arg(y_sums)};
  }
};

// A device's one-launch quantized_linear: true (and *out set) when it ran.
using FusedLinear = bool (*)(const at::Tensor& x, const at::Tensor& weight,
                             const at::Tensor& weight_scale, const OptTensor& bias,
                             at::Tensor* out);

// quantized_linear: quantize x per token, then scaled_mm with both scales
// and the bias (a composite of two core calls, so both validate), unless the
// device's `fused` entry takes the problem as one kernel (the same bits).
// The weight's arguments are checked here, under their own names; the GEMM
// would call them y and y_scale.
template <Status (*compute)(const GemmProblem&),
          QuantizeResult (*quantize)(const at::Tensor&, c10::string_view, bool, bool),
          FusedLinear fused = nullptr, Allocate allocate = &dispatched_empty>
at::Tensor quantized_linear(const at::Tensor& x, const at::Tensor& weight,
                            const at::Tensor& weight_scale, const OptTensor& bias) {
  TORCH_CHECK_VALUE(x.dim() >= 1, "x: expected a tensor of shape (..., K), got a 0-d tensor");
  const int64_t k = x.size(-1);
  TORCH_CHECK_VALUE(x.device() == weight.device(),
                    "x is on " + x.device().str() + " but weight is on " + weight.device().str());
  TORCH_CHECK_VALUE(weight.dim() == 2 && weight.size(1) == k,
                    "weight: expected shape (N, K=" + std::to_string(k) + ") for x of shape " +
                        std::string(c10::str(x.sizes())) + ", got " +
                        std::string(c10::str(weight.sizes())));
  TORCH_CHECK_TYPE(
      weight.scalar_type() == at::kChar,
      "weight: expected int8, got " + std::string(c10::toString(weight.scalar_type())));
  TORCH_CHECK_VALUE(weight_scale.dim() == 1 && weight_scale.size(0) == weight.size(0),
                    "weight_scale: expected shape (N=" + std::to_string(weight.size(0)) +
                        ",), got " + std::string(c10::str(weight_scale.sizes())));
  TORCH_CHECK_TYPE(weight_scale.scalar_type() == at::kFloat,
                   "weight_scale: expected float32, got " +
                       std::string(c10::toString(weight_scale.scalar_type())));
  TORCH_CHECK_VALUE(!bias || (bias->dim() == 1 && bias->size(0) == weight.size(0)),
                    "bias: expected shape (N=" + std::to_string(weight.size(0)) + ",), got " +
                        std::string(c10::str(bias->sizes())));
  if constexpr (fused != nullptr) {
    at::Tensor out;
    if (fused(x, weight, weight_scale, bias, &out)) return out;
  }
  const auto [q, scales, zero_points] = quantize(x, "row", false, false);
  const at::Tensor x_scale = scales.view({-1});
  const EpilogueArgs epilogue{1.0, &x_scale, &weight_scale, optional_arg(bias)};
  return gemm_new(q, weight, epilogue, x.scalar_type(), compute, allocate);
}

}  // namespace gemm_int8::torch_ops
