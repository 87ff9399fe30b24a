#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "gemm_int8/problem.h"

namespace gemm_int8::testing {

// Host buffers for an M x N x K problem with contiguous operands. out starts
// as bfloat16; its buffer has room for M x N elements of any out dtype.
struct HostProblem {
  std::vector<int8_t> x, y;
  std::vector<uint16_t> out;
  GemmProblem problem;

  HostProblem(int64_t m, int64_t n, int64_t k, double alpha = 1.0)
      : x(m * k), y(n * k), out(2 * m * n) {
    problem.x = {x.data(), DType::kInt8, Device::host(), m, k, k, 1};
    problem.y = {y.data(), DType::kInt8, Device::host(), n, k, k, 1};
    problem.out = {out.data(), DType::kBFloat16, Device::host(), m, n, n, 1};
    problem.epilogue.alpha = alpha;
  }

  // Element i (row-major) of out, read as T (uint16_t bits, float or int32_t).
  template <typename T>
  T out_at(int64_t i) const {
    T value;
    std::memcpy(&value, reinterpret_cast<const char*>(out.data()) + i * sizeof(T), sizeof(T));
    return value;
  }
};

// A contiguous host vector over `values`.
template <typename T>
VectorView host_vector(const std::vector<T>& values, DType dtype) {
  return {values.data(), dtype, Device::host(), static_cast<int64_t>(values.size()), 1};
}

}  // namespace gemm_int8::testing
