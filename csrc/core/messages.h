// Helpers shared by the core's validators: messages built from parts, and
// the extent bound that keeps every offset computation inside int64.
#pragma once

#include <cstdint>
#include <sstream>
#include <string>

namespace gemm_int8 {

template <typename... Parts>
std::string cat(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}

// Sizes and strides below 2^40 keep every offset computation inside int64.
constexpr int64_t kMaxExtent = int64_t{1} << 40;

}  // namespace gemm_int8
