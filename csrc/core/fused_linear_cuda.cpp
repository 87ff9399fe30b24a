// fused_linear_cuda: the dispatch of a LinearProblem to the gemv family's
// fused kernel.
#include <cstdlib>
#include <cstring>

#include "core/device_info.h"
#include "gemm_int8/linear_cuda.h"
#include "kernels/gemv/launcher.h"

namespace gemm_int8 {

// On by default (GEMM_INT8_FUSED_LINEAR=0 turns it off, for comparisons);
// read per call like GEMM_INT8_FORCE_KERNEL. A forced kernel turns it off,
// so that the GEMM runs what it names.
bool fused_linear_enabled() {
  const char* env = std::getenv("GEMM_INT8_FUSED_LINEAR");
  const char* forced = std::getenv("GEMM_INT8_FORCE_KERNEL");
  return (env == nullptr || std::strcmp(env, "0") != 0) && (forced == nullptr || *forced == '\0');
}

Status fused_linear_cuda(const LinearProblem& p, cudaStream_t stream, bool* ran) {
  *ran = false;
  GEMM_INT8_RETURN_IF_ERROR(validate_linear(p));
  if (p.x.device.kind != Device::Kind::kCuda)
    return Status::value_error("x: the CUDA path needs CUDA memory, x is on cpu");
  if (!fused_linear_enabled()) return {};
  // Only eagerly. In a CUDA graph on the H200 a Llama-3-8B block at one token
  // took 83.8 us as quantize + GEMM (one quantization shared by the layers
  // reading the same x) and 111.3 us fused: launches cost nothing there, and
  // each GEMM prefetches its weight while the quantize kernel runs. Eagerly
  // the host sets the pace and one launch per layer wins, 192.6 us against
  // 293.3 (docs/performance.md, "Issue 10 — the gemv family").
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(stream, &capture) != cudaSuccess) {
    (void)cudaGetLastError();
    return {};
  }
  if (capture != cudaStreamCaptureStatusNone) return {};
#ifdef GEMM_INT8_HAS_SM80  // the gemv family compiles with the sm80 family's flags
  ScopedDevice on_device(p.x.device.index);
  GEMM_INT8_RETURN_IF_ERROR(on_device.status());
  DeviceInfo device;
  GEMM_INT8_RETURN_IF_ERROR(device_info(p.x.device.index, &device));
  const int row = fused_linear_row(p, device);
  if (row < 0) return {};
  kernels::FusedLinearArgs a;
  a.m = static_cast<int>(p.m()), a.n = static_cast<int>(p.n()), a.k = static_cast<int>(p.k());
  a.x = p.x.data, a.ld_x = p.x.row_stride, a.x_dtype = p.x.dtype;
  a.w = static_cast<const int8_t*>(p.weight.data), a.ld_w = p.weight.row_stride;
  a.out = p.out.data, a.ld_out = p.out.row_stride;
  a.epilogue.y_scale = static_cast<const float*>(p.weight_scale.data);
  a.epilogue.y_scale_step = p.weight_scale.per_element() ? 1 : 0;
  a.epilogue.bias = static_cast<const float*>(p.bias.data);
  a.sm_count = device.sm_count;
  GEMM_INT8_RETURN_IF_ERROR(kernels::launch_fused_linear(row, a, stream));
  *ran = true;
#else
  (void)stream;
#endif
  return {};
}

}  // namespace gemm_int8
