#include <torch/library.h>

#include "gemm_int8/cpu.h"
#include "gemm_int8/hadamard.h"
#include "gemm_int8/row_sums.h"
#include "ops_impl.h"
#include "quantize_common.h"

namespace gemm_int8::torch_ops {
namespace {

Status compute_cpu(const GemmProblem& problem) { return matmul_cpu(problem); }
using Ops = GemmOps<compute_cpu>;

at::Tensor row_sums_op(const at::Tensor& y) {
  const MatrixView view = row_sums_input(y);
  at::Tensor out = row_sums_output(y);
  throw_if_error(row_sums_cpu(view, out.data_ptr<int32_t>()));
  return out;
}

QuantizeResult quantize_op(const at::Tensor& x, c10::string_view granularity, bool asymmetric,
                           bool hadamard) {
  QuantizeCall call(x, std::string_view(granularity.data(), granularity.size()), asymmetric, false,
                    hadamard);
  throw_if_error(quantize_cpu(call.problem));
  return call.result();
}

QuantizeTransposeResult quantize_with_transpose_op(const at::Tensor& x,
                                                   c10::string_view granularity) {
  QuantizeCall call(x, std::string_view(granularity.data(), granularity.size()), false, true);
  throw_if_error(quantize_cpu(call.problem));
  return call.transpose_result();
}

at::Tensor hadamard_op(const at::Tensor& x) {
  HadamardCall call(x);
  throw_if_error(hadamard_cpu(call.problem));
  return call.out;
}

int64_t capture_id_op(const at::Tensor&) { return 0; }  // no graphs on the CPU

}  // namespace

TORCH_LIBRARY_IMPL(gemm_int8, CPU, m) {
  m.impl("matmul", &Ops::matmul);
  m.impl("matmul_out", &Ops::matmul_out);
  m.impl("scaled_mm", &Ops::scaled_mm);
  m.impl("scaled_mm_out", &Ops::scaled_mm_out);
  m.impl("row_sums", &row_sums_op);
  m.impl("quantize", &quantize_op);
  m.impl("quantize_with_transpose", &quantize_with_transpose_op);
  m.impl("hadamard", &hadamard_op);
  m.impl("quantized_linear", &quantized_linear<compute_cpu, quantize_op>);
  m.impl("_capture_id", &capture_id_op);
}

TORCH_LIBRARY_IMPL(gemm_int8_CUDA, CPU, m) { m.impl("int8_matmul", &Ops::int8_matmul); }

}  // namespace gemm_int8::torch_ops
