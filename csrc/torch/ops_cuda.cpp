#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "gemm_int8/cuda.h"
#include "matmul_common.h"

namespace gemm_int8::torch_ops {
namespace {

// plan_cuda validates before touching CUDA state (a CPU tensor in the mix is
// a clean ValueError); then workspace comes from the caching allocator and
// the launch goes to the current stream of the tensors' device.
Status compute_cuda(const GemmProblem& problem) {
  Plan plan;
  GEMM_INT8_RETURN_IF_ERROR(plan_cuda(problem, &plan));
  const auto index = static_cast<c10::DeviceIndex>(problem.x.device.index);
  c10::cuda::CUDAGuard guard(index);
  at::Tensor workspace;
  if (plan.workspace_bytes > 0)
    workspace = at::empty({static_cast<int64_t>(plan.workspace_bytes)},
                          at::TensorOptions().dtype(at::kByte).device(at::kCUDA, index));
  return run_cuda(problem, plan, plan.workspace_bytes ? workspace.data_ptr() : nullptr,
                  plan.workspace_bytes, at::cuda::getCurrentCUDAStream(index).stream());
}

at::Tensor matmul_cuda_op(const at::Tensor& x, const at::Tensor& y, double alpha) {
  return matmul_new(x, y, alpha, compute_cuda);
}

void matmul_out_cuda_op(const at::Tensor& x, const at::Tensor& y, double alpha, at::Tensor& out) {
  matmul_into(x, y, alpha, out, compute_cuda);
}

}  // namespace

TORCH_LIBRARY_IMPL(gemm_int8, CUDA, m) {
  m.impl("matmul", &matmul_cuda_op);
  m.impl("matmul_out", &matmul_out_cuda_op);
}

}  // namespace gemm_int8::torch_ops
