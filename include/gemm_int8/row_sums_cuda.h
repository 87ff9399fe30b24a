// The CUDA row sums (see row_sums.h): one launch on `stream`, never
// synchronizes, capturable in CUDA graphs.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "gemm_int8/row_sums.h"

namespace gemm_int8 {

// y and out in device memory of y.device; `stream` must belong to it.
Status row_sums_cuda(const MatrixView& y, int32_t* out, cudaStream_t stream);

}  // namespace gemm_int8
