// Every schema of the gemm_int8 namespaces. Implementations register per
// dispatch key in ops_cpu.cpp and ops_cuda.cpp; fake (meta) implementations
// live next to the Python wrappers in python/gemm_int8/ops.py. The out=
// variants mutate `out` and return nothing, as torch.compile's
// functionalization requires of mutating ops.
#include <torch/library.h>

#include <string>
#include <vector>

#include "gemm_int8/config.h"

namespace {

// Every row of every family's table, by the name GEMM_INT8_FORCE_KERNEL
// takes: tools ask the library rather than parse its sources.
std::vector<std::string> kernel_configs() {
  std::vector<std::string> names;
  for (const gemm_int8::KernelConfig& c : gemm_int8::all_configs()) names.emplace_back(c.name);
  return names;
}

}  // namespace

TORCH_LIBRARY(gemm_int8, m) {
  // The kernel table's row names (no tensors: one kernel for every backend).
  m.def("kernel_configs() -> str[]", &kernel_configs);
  // out_dtype (x @ y.T) * alpha for int8 x (..., K), y (N, K); exact int32
  // accumulation. out_dtype: bfloat16 (default), float16, float32 or int32.
  m.def("matmul(Tensor x, Tensor y, float alpha=1., *, ScalarType? out_dtype=None) -> Tensor");
  // matmul into a caller-provided tensor of shape (..., N); its dtype is the output dtype.
  m.def("matmul_out(Tensor x, Tensor y, float alpha=1., *, Tensor(a!) out) -> ()");
  // x_scale[m] * y_scale[n] * (x @ y.T - x_zero_point[m] * y_sums[n]) + bias[n]
  // in float32, one rounding to out_dtype; absent operands are neutral.
  m.def(
      "scaled_mm(Tensor x, Tensor y, Tensor? x_scale, Tensor? y_scale, *, Tensor? bias=None, "
      "Tensor? x_zero_point=None, Tensor? y_sums=None, ScalarType? out_dtype=None) -> Tensor");
  // scaled_mm into a caller-provided tensor of shape (..., N).
  m.def(
      "scaled_mm_out(Tensor x, Tensor y, Tensor? x_scale, Tensor? y_scale, *, Tensor? bias=None, "
      "Tensor? x_zero_point=None, Tensor? y_sums=None, Tensor(a!) out) -> ()");
  // int32 (N,) row sums of an int8 (N, K) matrix: the y_sums of scaled_mm.
  m.def("row_sums(Tensor y) -> Tensor");
  // float x (..., K) -> int8 values, float32 scales and (asymmetric) int32 zero
  // points per tensor, row or col; the rule of gemm_int8/quantize.h.
  // hadamard: quantize each row rotated by the normalized Hadamard matrix
  // (gemm_int8/hadamard.h), "row" granularity only.
  m.def(
      "quantize(Tensor x, str granularity=\"row\", *, bool asymmetric=False, "
      "bool hadamard=False) -> (Tensor, Tensor, Tensor?)");
  // x (..., n) rotated along its last dimension by the normalized Hadamard
  // matrix of order n (its own inverse), in x's dtype.
  m.def("hadamard(Tensor x) -> Tensor");
  // quantize (symmetric, "row" or "tensor") that also returns x's transpose
  // (K, M) quantized per column of x (or with the tensor's scale): the
  // K-major operand of the GEMMs that reduce over x's rows (training's dW).
  m.def(
      "quantize_with_transpose(Tensor x, str granularity=\"row\") -> "
      "(Tensor, Tensor, Tensor, Tensor)");
  // Int8Linear's forward in one call: x (..., K) float quantized per token
  // (symmetric, the rule of quantize), times an int8 weight (N, K) with
  // float32 per-channel scales, plus bias, in x's dtype.
  m.def(
      "quantized_linear(Tensor x, Tensor weight, Tensor weight_scale, Tensor? bias=None) -> "
      "Tensor");
  // The CUDA graph capture that the current stream of like's device is
  // recording into (a process-unique id), or 0 when none (always 0 on the
  // CPU): the nn layer's caches key on it, so that one capture never reuses
  // tensors another capture recorded.
  m.def("_capture_id(Tensor like) -> int");
}

// The original library's operator, so scripts written for it run unchanged.
TORCH_LIBRARY(gemm_int8_CUDA, m) {
  // bfloat16 (A @ B.T) * alpha: gemm_int8::matmul under its old name.
  m.def("int8_matmul(Tensor A, Tensor B, float alpha) -> Tensor");
}
