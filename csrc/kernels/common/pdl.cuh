// Programmatic dependent launch (Hopper): a kernel launched with pdl_launch
// may start while the previous kernel on the stream is still running, once
// that kernel's CTAs have all called pdl_allow_next() (or exited). Its CTAs
// then wait in pdl_wait() until the previous grid has finished and its
// writes are visible. Decode kernels take a few microseconds, so the launch
// latency and prologue this hides are a real share of their time.
//
// The contract every kernel launched this way keeps: no global memory access
// before pdl_wait() except L2 prefetches (the L2 is the point of coherence,
// so a prefetched line never hides a later write of the previous kernel).
// On GPUs before sm_90 the instructions compile away, and a launch that
// refuses the attribute falls back to a plain one.
#pragma once

#include <cuda_runtime.h>

#include <cstdlib>
#include <cstring>

namespace gemm_int8::kernels {

__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void pdl_allow_next() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// Brings `bytes` (a multiple of 16, 16-byte aligned) at p into L2.
__device__ __forceinline__ void prefetch_l2(const void* p, uint32_t bytes) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(p), "r"(bytes) : "memory");
#endif
}

// GEMM_INT8_PDL=0 launches every kernel plainly (read once per process).
inline bool pdl_enabled() {
  static const bool enabled = [] {
    const char* env = std::getenv("GEMM_INT8_PDL");
    return env == nullptr || std::strcmp(env, "0") != 0;
  }();
  return enabled;
}

template <class... Params, class... Args>
cudaError_t pdl_launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem,
                       cudaStream_t stream, Args&&... args) {
  if (pdl_enabled()) {
    cudaLaunchAttribute attribute{};
    attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attribute.val.programmaticStreamSerializationAllowed = 1;
    cudaLaunchConfig_t config{grid, block, smem, stream, &attribute, 1};
    if (cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...) == cudaSuccess)
      return cudaSuccess;
    (void)cudaGetLastError();  // refused (no sm_90): launch plainly
  }
  kernel<<<grid, block, smem, stream>>>(std::forward<Args>(args)...);
  return cudaGetLastError();
}

}  // namespace gemm_int8::kernels
