#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "gemm_int8/cuda.h"
#include "gemm_int8/validate.h"
#include "matmul_common.h"

namespace gemm_int8::torch_ops {
namespace {

// Validate before touching CUDA state, so a CPU tensor in the mix is a clean
// ValueError; then plan, take workspace from the caching allocator and run
// on the current stream of the tensors' device.
Status compute_cuda(const GemmProblem& problem) {
  GEMM_INT8_RETURN_IF_ERROR(validate(problem));
  if (problem.x.device.kind != Device::Kind::kCuda)
    return Status::value_error("x is on cpu but the other tensors are on cuda");
  const c10::DeviceIndex index = static_cast<c10::DeviceIndex>(problem.x.device.index);
  c10::cuda::CUDAGuard guard(index);
  Plan plan;
  GEMM_INT8_RETURN_IF_ERROR(plan_cuda(problem, &plan));
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
