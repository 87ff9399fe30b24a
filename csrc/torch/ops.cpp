// Every schema of the gemm_int8 namespace. Implementations register per
// dispatch key in ops_cpu.cpp and ops_cuda.cpp; fake (meta) implementations
// live next to the Python wrappers in python/gemm_int8/ops.py.
#include <torch/library.h>

TORCH_LIBRARY(gemm_int8, m) {
  // bf16 (x @ y.T) * alpha for int8 x (..., K), y (N, K); exact int32 accumulation.
  m.def("matmul(Tensor x, Tensor y, float alpha=1.0) -> Tensor");
  // matmul into a caller-provided bf16 tensor of shape (..., N). Returns
  // nothing, as torch.compile's functionalization requires of mutating ops.
  m.def("matmul_out(Tensor x, Tensor y, float alpha=1.0, *, Tensor(a!) out) -> ()");
}
