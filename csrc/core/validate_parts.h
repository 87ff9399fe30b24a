// Checks the core's validators share (validate.cpp, quantize.cpp, linear.cpp):
// memory ranges and their overlap, vector operands, outputs whose elements
// alias each other.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/messages.h"
#include "gemm_int8/problem.h"
#include "gemm_int8/status.h"

namespace gemm_int8 {

// The float dtypes quantization takes (and the fused linear layer's x).
inline bool is_float_input(DType d) {
  return d == DType::kFloat32 || d == DType::kBFloat16 || d == DType::kFloat16;
}

// Byte range [begin, end) a view touches; empty views touch nothing.
struct ByteRange {
  uintptr_t begin = 0, end = 0;
  bool empty() const { return begin == end; }
  bool overlaps(const ByteRange& o) const {
    return !empty() && !o.empty() && begin < o.end && o.begin < end;
  }
};

template <typename View>
ByteRange byte_range(const View& v) {
  if (v.rows == 0 || v.cols == 0) return {};
  const uint64_t last = static_cast<uint64_t>(v.rows - 1) * static_cast<uint64_t>(v.row_stride) +
                        static_cast<uint64_t>(v.cols - 1) * static_cast<uint64_t>(v.col_stride);
  const auto begin = reinterpret_cast<uintptr_t>(v.data);
  return {begin, begin + (last + 1) * dtype_size(v.dtype)};
}

// `count` elements of `size` bytes at `data` (none when count is 0).
ByteRange byte_range(const void* data, int64_t count, size_t size);
ByteRange byte_range(const VectorView& v);

// Output elements must not share memory, or the result depends on write order.
Status check_no_internal_overlap(const MutableMatrixView& out);

// A per-tensor (size 1, when allow_single) or per-row (size `rows`; `what`
// names the rows) vector of `dtype` on `device`; absent vectors pass.
Status check_vector(const char* name, const VectorView& v, DType dtype, int64_t rows,
                    const char* what, bool allow_single, const Device& device);

}  // namespace gemm_int8
