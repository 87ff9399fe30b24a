// A kernel's dynamic shared-memory limit, raised once per device.
#pragma once

#include <cuda_runtime_api.h>

#include <atomic>
#include <cstdint>

namespace gemm_int8::kernels {

// Raises `Kernel`'s (one instantiation's) dynamic shared-memory limit to
// `bytes` on the current device, ordinal `device`, the first time it is asked
// there: the attribute stays set, and setting it on every call cost 2.2 us of
// host time per call on the H200 host (docs/performance.md, "Issue 12 — host
// overhead"). Callers pass the most the kernel is ever launched with.
template <auto Kernel>
cudaError_t raise_shared_memory_limit_once(int device, int bytes) {
  static std::atomic<uint64_t> done{0};
  const uint64_t bit = device >= 0 && device < 64 ? uint64_t{1} << device : 0;
  if (bit != 0 && (done.load(std::memory_order_acquire) & bit) != 0) return cudaSuccess;
  const cudaError_t err =
      cudaFuncSetAttribute(Kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  if (err == cudaSuccess) done.fetch_or(bit, std::memory_order_release);
  return err;
}

}  // namespace gemm_int8::kernels
