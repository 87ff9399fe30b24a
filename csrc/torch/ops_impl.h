// The op bodies shared by ops_cpu.cpp and ops_cuda.cpp, templated on the
// device's compute function, so each dispatch key registers the same code.
#pragma once

#include <optional>

#include "matmul_common.h"

namespace gemm_int8::torch_ops {

using OptTensor = std::optional<at::Tensor>;

template <Status (*compute)(const GemmProblem&)>
struct GemmOps {
  static at::Tensor matmul(const at::Tensor& x, const at::Tensor& y, double alpha,
                           std::optional<at::ScalarType> out_dtype) {
    return gemm_new(x, y, {alpha}, out_dtype, compute);
  }

  static void matmul_out(const at::Tensor& x, const at::Tensor& y, double alpha, at::Tensor& out) {
    gemm_into(x, y, {alpha}, out, compute);
  }

  static at::Tensor scaled_mm(const at::Tensor& x, const at::Tensor& y, const OptTensor& x_scale,
                              const OptTensor& y_scale, const OptTensor& bias,
                              const OptTensor& x_zero_point, const OptTensor& y_sums,
                              std::optional<at::ScalarType> out_dtype) {
    return gemm_new(x, y, args(x_scale, y_scale, bias, x_zero_point, y_sums), out_dtype, compute);
  }

  static void scaled_mm_out(const at::Tensor& x, const at::Tensor& y, const OptTensor& x_scale,
                            const OptTensor& y_scale, const OptTensor& bias,
                            const OptTensor& x_zero_point, const OptTensor& y_sums,
                            at::Tensor& out) {
    gemm_into(x, y, args(x_scale, y_scale, bias, x_zero_point, y_sums), out, compute);
  }

  // gemm_int8_CUDA::int8_matmul: the original library's bfloat16 matmul.
  static at::Tensor int8_matmul(const at::Tensor& a, const at::Tensor& b, double alpha) {
    return gemm_new(a, b, {alpha}, std::nullopt, compute);
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

}  // namespace gemm_int8::torch_ops
