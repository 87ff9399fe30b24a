// The CUDA quantization (see quantize.h): launches on `stream` only, never
// synchronizes (a per-tensor or per-column scale stays on the device),
// capturable in CUDA graphs.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "gemm_int8/quantize.h"

namespace gemm_int8 {

// Scratch bytes quantize_cuda needs: 0 for row granularity, 8 per group
// (the running max and min) for tensor and column granularity; with a
// transpose, 4 per row and column of x (their |x| maxima), 4 per tensor.
size_t quantize_cuda_workspace_bytes(const QuantizeProblem& problem);

// Every pointer in device memory of x.device; `stream` must belong to it.
// `workspace` holds at least quantize_cuda_workspace_bytes() bytes, 4-byte
// aligned; it is cleared on `stream` before use.
Status quantize_cuda(const QuantizeProblem& problem, void* workspace, size_t workspace_bytes,
                     cudaStream_t stream);

}  // namespace gemm_int8
