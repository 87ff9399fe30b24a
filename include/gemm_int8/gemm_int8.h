// gemm_int8: exact int8 x int8 -> int32 GEMM with fused epilogues.
// Torch-free public API; see README.md "C++ API".
#pragma once

#include "gemm_int8/config.h"
#include "gemm_int8/cpu.h"
#include "gemm_int8/cuda.h"
#include "gemm_int8/plan_key.h"
#include "gemm_int8/problem.h"
#include "gemm_int8/status.h"
#include "gemm_int8/validate.h"
