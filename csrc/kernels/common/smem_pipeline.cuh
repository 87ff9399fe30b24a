// The Hopper primitives of a shared-memory ring fed by bulk asynchronous
// copies: transaction-counting mbarriers, cp.async.bulk global -> shared, and
// named barriers for a subset of the CTA's warps. sm_90 only: the kernels
// that use them are dispatched on sm_90 alone; elsewhere these compile to a
// trap so that a wrong dispatch fails loudly instead of computing garbage.
#pragma once

#include <cstdint>

namespace gemm_int8::kernels {

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define GEMM_INT8_SM90_ASM(...) asm volatile(__VA_ARGS__)
#else
#define GEMM_INT8_SM90_ASM(...) __trap()
#endif

__device__ __forceinline__ uint32_t shared_address(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void mbarrier_init(uint64_t* bar, uint32_t arrivals) {
  GEMM_INT8_SM90_ASM("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(shared_address(bar)),
                     "r"(arrivals)
                     : "memory");
}

// Makes the initialized barriers visible to the async proxy (the copies).
__device__ __forceinline__ void mbarrier_init_fence() {
  GEMM_INT8_SM90_ASM("fence.mbarrier_init.release.cluster;" ::: "memory");
}

// One arrival that also announces `bytes` of copies completing on the phase.
__device__ __forceinline__ void mbarrier_arrive_expect_tx(uint64_t* bar, uint32_t bytes) {
  GEMM_INT8_SM90_ASM(
      "mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(shared_address(bar)),
      "r"(bytes)
      : "memory");
}

__device__ __forceinline__ void mbarrier_arrive(uint64_t* bar) {
  GEMM_INT8_SM90_ASM("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(shared_address(bar))
                     : "memory");
}

// Waits until the phase of parity `parity` has completed.
__device__ __forceinline__ void mbarrier_wait(uint64_t* bar, uint32_t parity) {
  uint32_t done = 0;
  do {
    GEMM_INT8_SM90_ASM(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
        "selp.u32 %0, 1, 0, p;\n}"
        : "=r"(done)
        : "r"(shared_address(bar)), "r"(parity)
        : "memory");
  } while (!done);
}

// Copies `bytes` (a multiple of 16; both addresses 16-byte aligned) from
// global to shared memory; completion counts down `bar`'s transactions.
__device__ __forceinline__ void bulk_copy_to_shared(void* dst, const void* src, uint32_t bytes,
                                                    uint64_t* bar) {
  GEMM_INT8_SM90_ASM(
      "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::
          "r"(shared_address(dst)),
      "l"(src), "r"(bytes), "r"(shared_address(bar))
      : "memory");
}

// Orders this thread's earlier shared-memory accesses (generic proxy)
// before later bulk copies (async proxy) into the same bytes.
__device__ __forceinline__ void fence_proxy_async_shared() {
  GEMM_INT8_SM90_ASM("fence.proxy.async.shared::cta;" ::: "memory");
}

// Barrier `id` (1..15; 0 is __syncthreads) over `threads` threads.
__device__ __forceinline__ void named_barrier_sync(int id, int threads) {
  asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(threads) : "memory");
}

#undef GEMM_INT8_SM90_ASM

}  // namespace gemm_int8::kernels
