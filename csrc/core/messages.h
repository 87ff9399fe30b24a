// Helpers shared by the core's validators: messages built from parts, the
// extent bound that keeps every offset computation inside int64, and the
// checks every strided matrix view gets.
#pragma once

#include <cstdint>
#include <sstream>
#include <string>

#include "gemm_int8/problem.h"
#include "gemm_int8/status.h"

namespace gemm_int8 {

template <typename... Parts>
std::string cat(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}

// Sizes and strides below 2^40 keep every offset computation inside int64.
constexpr int64_t kMaxExtent = int64_t{1} << 40;

template <typename View>
std::string shape_of(const View& v) {
  return cat("(", v.rows, ", ", v.cols, ")");
}

// Shape, strides and pointer of a view that `name` refers to in messages.
template <typename View>
Status check_view(const char* name, const View& v) {
  if (v.rows < 0 || v.cols < 0)
    return Status::value_error(cat(name, ": negative shape ", shape_of(v)));
  if (v.rows >= kMaxExtent || v.cols >= kMaxExtent || v.row_stride >= kMaxExtent ||
      v.col_stride >= kMaxExtent)
    return Status::value_error(cat(name, ": shape ", shape_of(v), " or strides (", v.row_stride,
                                   ", ", v.col_stride, ") exceed 2^40"));
  if (v.row_stride < 0 || v.col_stride < 0)
    return Status::value_error(
        cat(name, ": negative strides (", v.row_stride, ", ", v.col_stride, ") are not supported"));
  if (v.rows > 0 && v.cols > 0) {
    if (v.data == nullptr) return Status::value_error(cat(name, ": data pointer is null"));
    if (reinterpret_cast<uintptr_t>(v.data) % dtype_size(v.dtype) != 0)
      return Status::value_error(cat(name, ": data pointer is not aligned to its ",
                                     dtype_size(v.dtype), "-byte element size"));
  }
  return {};
}

}  // namespace gemm_int8
