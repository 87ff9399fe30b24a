#pragma once

#include "gemm_int8/problem.h"
#include "gemm_int8/status.h"

namespace gemm_int8 {

// Checks everything about a problem that does not depend on the kernel:
// dtypes, shapes, strides, devices, pointers, aliasing, alpha, the int32
// overflow bound on K. Messages name the argument (x, y, out, alpha).
Status validate(const GemmProblem& problem);

}  // namespace gemm_int8
