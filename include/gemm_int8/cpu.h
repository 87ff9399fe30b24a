#pragma once

#include "gemm_int8/problem.h"
#include "gemm_int8/status.h"

namespace gemm_int8 {

// Computes the problem on host memory. num_threads <= 0 means
// GEMM_INT8_CPU_THREADS if set, else the hardware concurrency.
Status matmul_cpu(const GemmProblem& problem, int num_threads = 0);

}  // namespace gemm_int8
