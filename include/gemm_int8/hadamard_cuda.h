// The Hadamard rotation (gemm_int8/hadamard.h) on the GPU: one CTA per row,
// the row rotated in shared memory. Launches on `stream` only, never
// synchronizes, capturable in CUDA graphs.
#pragma once

#include <cuda_runtime_api.h>

#include "gemm_int8/hadamard.h"

namespace gemm_int8 {

// x and out in device memory of x.device; `stream` must belong to it.
Status hadamard_cuda(const HadamardProblem& problem, cudaStream_t stream);

}  // namespace gemm_int8
