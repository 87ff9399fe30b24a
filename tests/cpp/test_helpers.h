#pragma once

#include <cstdint>
#include <vector>

#include "gemm_int8/problem.h"

namespace gemm_int8::testing {

// Host buffers for an M x N x K problem with contiguous operands.
struct HostProblem {
  std::vector<int8_t> x, y;
  std::vector<uint16_t> out;
  GemmProblem problem;

  HostProblem(int64_t m, int64_t n, int64_t k, double alpha = 1.0)
      : x(m * k), y(n * k), out(m * n) {
    problem.x = {x.data(), DType::kInt8, Device::host(), m, k, k, 1};
    problem.y = {y.data(), DType::kInt8, Device::host(), n, k, k, 1};
    problem.out = {out.data(), DType::kBFloat16, Device::host(), m, n, n, 1};
    problem.epilogue.alpha = alpha;
  }
};

}  // namespace gemm_int8::testing
