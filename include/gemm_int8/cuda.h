// CUDA entry points: plan once per problem shape, then run on a stream with
// caller-provided workspace (the torch layer passes caching-allocator bytes).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "gemm_int8/config.h"
#include "gemm_int8/plan_key.h"
#include "gemm_int8/problem.h"
#include "gemm_int8/staging.h"
#include "gemm_int8/status.h"

namespace gemm_int8 {

struct Plan {
  PlanKey key;  // what the plan depends on; run_cuda refuses other problems
  DeviceInfo device;
  KernelConfig config;
  Staging staging;
  size_t kernel_workspace_bytes = 0;  // e.g. stream-K partial tiles
  size_t workspace_bytes = 0;         // total: kernel + staging buffers
};

// Validates the problem, reads the device, applies GEMM_INT8_FORCE_KERNEL and
// chooses a kernel. Cheap: device facts are cached per ordinal and each
// thread keeps its 16 most recent plans.
Status plan_cuda(const GemmProblem& problem, Plan* plan);

// Runs a plan made for a problem with the same PlanKey (shape, strides,
// alignments, dtypes, epilogue form; the pointers may differ). Launches on
// `stream` (which must belong to the problem's device); never synchronizes.
Status run_cuda(const GemmProblem& problem, const Plan& plan, void* workspace,
                size_t workspace_bytes, cudaStream_t stream);

// Returns `bytes` of device memory on the problem's device for one call (the
// torch layer hands out caching-allocator memory), or null when it cannot.
using WorkspaceAllocator = void* (*)(size_t bytes, void* context);

// plan_cuda + run_cuda for a caller that runs each problem as it comes:
// validates once, and calls `allocate(bytes, context)` only when the plan
// needs workspace (most do not). Launches on `stream`; never synchronizes.
Status gemm_cuda(const GemmProblem& problem, cudaStream_t stream, WorkspaceAllocator allocate,
                 void* context);

}  // namespace gemm_int8
