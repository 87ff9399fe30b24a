#include <torch/library.h>

#include "gemm_int8/cpu.h"
#include "matmul_common.h"

namespace gemm_int8::torch_ops {
namespace {

Status compute_cpu(const GemmProblem& problem) { return matmul_cpu(problem); }

at::Tensor matmul_cpu_op(const at::Tensor& x, const at::Tensor& y, double alpha) {
  return matmul_new(x, y, alpha, compute_cpu);
}

void matmul_out_cpu_op(const at::Tensor& x, const at::Tensor& y, double alpha, at::Tensor& out) {
  matmul_into(x, y, alpha, out, compute_cpu);
}

}  // namespace

TORCH_LIBRARY_IMPL(gemm_int8, CPU, m) {
  m.impl("matmul", &matmul_cpu_op);
  m.impl("matmul_out", &matmul_out_cpu_op);
}

}  // namespace gemm_int8::torch_ops
