// The fused CUDA entry point for LinearProblem (gemm_int8/linear.h).
#pragma once

#include <cuda_runtime_api.h>

#include "gemm_int8/linear.h"
#include "gemm_int8/status.h"

namespace gemm_int8 {

// Runs the problem as one kernel on `stream` unless GEMM_INT8_FUSED_LINEAR
// is "0", GEMM_INT8_FORCE_KERNEL is set or the stream is capturing a CUDA
// graph (there two launches measured faster), when fused_linear_row() takes
// it on this device; sets *ran. When *ran is false nothing was
// launched: the caller quantizes x per row and runs scaled_mm, which gives
// the same bits. Needs no workspace; never synchronizes.
Status fused_linear_cuda(const LinearProblem& problem, cudaStream_t stream, bool* ran);

// Whether fusion is switched on (GEMM_INT8_FUSED_LINEAR is not "0" and no
// GEMM_INT8_FORCE_KERNEL): callers need not build a problem otherwise.
bool fused_linear_enabled();

}  // namespace gemm_int8
