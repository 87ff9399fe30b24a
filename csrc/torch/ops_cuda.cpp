#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/EmptyTensor.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "gemm_int8/cuda.h"
#include "gemm_int8/hadamard_cuda.h"
#include "gemm_int8/linear_cuda.h"
#include "gemm_int8/quantize_cuda.h"
#include "gemm_int8/row_sums_cuda.h"
#include "ops_impl.h"
#include "quantize_common.h"

namespace gemm_int8::torch_ops {
namespace {

// x decides where the output lives; a CPU x in a mixed call gets a CPU output
// so that the core names the mix (rather than the allocator asserting).
at::Tensor empty_cuda(at::IntArrayRef shape, const at::TensorOptions& options) {
  return options.device().is_cuda() ? at::detail::empty_cuda(shape, options)
                                    : at::empty(shape, options);
}

// The core validates before touching CUDA state (a CPU tensor in the mix is a
// clean ValueError) and sets the device; workspace, when a plan needs any,
// comes from the caching allocator, and the launch goes to the current stream
// of the tensors' device. Epilogue vectors travel as raw device pointers:
// nothing is read on the host.
Status compute_cuda(const GemmProblem& problem) {
  struct Workspace {
    c10::DeviceIndex index;
    at::Tensor bytes;
  } workspace{static_cast<c10::DeviceIndex>(problem.x.device.index), {}};
  const auto allocate = [](size_t bytes, void* context) -> void* {
    auto* w = static_cast<Workspace*>(context);
    w->bytes = empty_cuda({static_cast<int64_t>(bytes)},
                          at::TensorOptions().dtype(at::kByte).device(at::kCUDA, w->index));
    return w->bytes.data_ptr();
  };
  return gemm_cuda(problem, at::cuda::getCurrentCUDAStream(workspace.index).stream(), allocate,
                   &workspace);
}
using Ops = GemmOps<compute_cuda, empty_cuda>;

at::Tensor row_sums_op(const at::Tensor& y) {
  const MatrixView view = row_sums_input(y);
  c10::cuda::CUDAGuard guard(y.device());
  at::Tensor out = row_sums_output(y);
  throw_if_error(row_sums_cuda(view, out.data_ptr<int32_t>(),
                               at::cuda::getCurrentCUDAStream(y.get_device()).stream()));
  return out;
}

// Tensor and column scales reduce into workspace from the caching allocator;
// nothing is read back to the host.
void run_quantize(const QuantizeCall& call, const at::Tensor& x) {
  const size_t bytes = quantize_cuda_workspace_bytes(call.problem);
  at::Tensor workspace;
  if (bytes > 0)
    workspace = empty_cuda({static_cast<int64_t>(bytes)}, x.options().dtype(at::kByte));
  throw_if_error(quantize_cuda(call.problem, bytes ? workspace.data_ptr() : nullptr, bytes,
                               at::cuda::getCurrentCUDAStream(x.get_device()).stream()));
}

QuantizeResult quantize_op(const at::Tensor& x, c10::string_view granularity, bool asymmetric,
                           bool hadamard) {
  c10::cuda::CUDAGuard guard(x.device());
  QuantizeCall call(x, std::string_view(granularity.data(), granularity.size()), asymmetric, false,
                    hadamard, empty_cuda);
  run_quantize(call, x);
  return call.result();
}

QuantizeTransposeResult quantize_with_transpose_op(const at::Tensor& x,
                                                   c10::string_view granularity) {
  c10::cuda::CUDAGuard guard(x.device());
  QuantizeCall call(x, std::string_view(granularity.data(), granularity.size()), false, true, false,
                    empty_cuda);
  run_quantize(call, x);
  return call.transpose_result();
}

at::Tensor hadamard_op(const at::Tensor& x) {
  c10::cuda::CUDAGuard guard(x.device());
  HadamardCall call(x, empty_cuda);
  throw_if_error(
      hadamard_cuda(call.problem, at::cuda::getCurrentCUDAStream(x.get_device()).stream()));
  return call.out;
}

// Decode-sized layers run as one kernel that quantizes x itself; the cheap
// tests first keep other calls from building a problem.
bool fused_linear_op(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& weight_scale,
                     const OptTensor& bias, at::Tensor* out) {
  const int64_t k = x.size(-1);
  if (k == 0 || x.numel() / k > kFusedLinearMaxRows || x.numel() == 0) return false;
  if (!fused_linear_enabled()) return false;
  if (bias && bias->scalar_type() != at::kFloat) return false;
  c10::cuda::CUDAGuard guard(x.device());
  const LinearProblem problem =
      linear_problem(x, weight, weight_scale, optional_arg(bias), out, empty_cuda);
  bool ran = false;
  throw_if_error(
      fused_linear_cuda(problem, at::cuda::getCurrentCUDAStream(x.get_device()).stream(), &ran));
  return ran;
}

int64_t capture_id_op(const at::Tensor& like) {
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream(like.get_device()).stream();
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  unsigned long long id = 0;
  const cudaError_t err = cudaStreamGetCaptureInfo(stream, &status, &id);
  TORCH_CHECK(err == cudaSuccess, "_capture_id: ", cudaGetErrorString(err));
  return status == cudaStreamCaptureStatusActive ? static_cast<int64_t>(id) : 0;
}

}  // namespace

TORCH_LIBRARY_IMPL(gemm_int8, CUDA, m) {
  m.impl("matmul", &Ops::matmul);
  m.impl("matmul_out", &Ops::matmul_out);
  m.impl("scaled_mm", &Ops::scaled_mm);
  m.impl("scaled_mm_out", &Ops::scaled_mm_out);
  m.impl("row_sums", &row_sums_op);
  m.impl("quantize", &quantize_op);
  m.impl("quantize_with_transpose", &quantize_with_transpose_op);
  m.impl("hadamard", &hadamard_op);
  m.impl("quantized_linear",
         &quantized_linear<compute_cuda, quantize_op, fused_linear_op, empty_cuda>);
  m.impl("_capture_id", &capture_id_op);
}

TORCH_LIBRARY_IMPL(gemm_int8_CUDA, CUDA, m) { m.impl("int8_matmul", &Ops::int8_matmul); }

}  // namespace gemm_int8::torch_ops
