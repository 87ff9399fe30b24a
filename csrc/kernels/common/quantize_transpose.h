// quantize_cuda's paths for problems with a transpose (QuantizeProblem::qt)
// and for rotated rows (QuantizeProblem::hadamard).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "gemm_int8/config.h"
#include "gemm_int8/quantize.h"

namespace gemm_int8::kernels {

// One key per row and column of x: their |x| maxima (per tensor two keys,
// what the plain kernels need when the transpose kernels do not fit).
size_t quantize_transpose_workspace_bytes(const QuantizeProblem& problem);

// Whether this GPU gives a block the shared memory the transpose kernels need
// for x's dtype; where it does not, quantize_cuda runs q and qt as two plain
// quantizations (the same bits, x read twice more).
bool quantize_transpose_fits(const QuantizeProblem& problem, const DeviceInfo& device);

// A validated symmetric problem with qt, granularity kRow or kTensor.
Status quantize_transpose_cuda(const QuantizeProblem& problem, const DeviceInfo& device,
                               uint32_t* keys, cudaStream_t stream);

// A validated kRow problem with `hadamard` set (kernels/common/hadamard.cu).
Status quantize_rotated_cuda(const QuantizeProblem& problem, cudaStream_t stream);

}  // namespace gemm_int8::kernels
