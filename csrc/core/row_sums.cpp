#include "gemm_int8/row_sums.h"

#include <string>

#include "core/messages.h"

namespace gemm_int8 {

Status validate_row_sums(const MatrixView& y, const int32_t* out) {
  if (y.dtype != DType::kInt8)
    return Status::type_error(cat("y: expected int8, got ", dtype_name(y.dtype)));
  GEMM_INT8_RETURN_IF_ERROR(check_view("y", y));
  if (y.cols > kMaxRowSumCols)
    return Status::value_error(cat("y: K=", y.cols,
                                   " exceeds 2^24, the longest row whose int8 sum "
                                   "always fits in int32"));
  if (y.rows == 0) return {};
  if (out == nullptr) return Status::value_error("out: data pointer is null");
  if (reinterpret_cast<uintptr_t>(out) % sizeof(int32_t) != 0)
    return Status::value_error("out: data pointer is not aligned to its 4-byte element size");
  if (y.cols > 0) {
    const auto y_begin = reinterpret_cast<uintptr_t>(y.data);
    const auto y_end = y_begin + static_cast<uintptr_t>((y.rows - 1) * y.row_stride +
                                                        (y.cols - 1) * y.col_stride + 1);
    const auto out_begin = reinterpret_cast<uintptr_t>(out);
    const auto out_end = out_begin + static_cast<uintptr_t>(y.rows) * sizeof(int32_t);
    if (out_begin < y_end && y_begin < out_end)
      return Status::value_error("out overlaps y in memory; pass a separate output buffer");
  }
  return {};
}

Status row_sums_cpu(const MatrixView& y, int32_t* out) {
  GEMM_INT8_RETURN_IF_ERROR(validate_row_sums(y, out));
  if (y.device.kind != Device::Kind::kHost)
    return Status::value_error("y: row_sums_cpu needs host memory");
  const auto* base = static_cast<const int8_t*>(y.data);
  if (y.col_stride != 1 && y.row_stride == 1) {
    // Transposed y: walk memory in order, one column of every row at a time.
    for (int64_t r = 0; r < y.rows; ++r) out[r] = 0;
    for (int64_t c = 0; c < y.cols; ++c) {
      const int8_t* column = base + c * y.col_stride;
      for (int64_t r = 0; r < y.rows; ++r) out[r] += column[r];
    }
    return {};
  }
  for (int64_t r = 0; r < y.rows; ++r) {
    const int8_t* row = base + r * y.row_stride;
    int32_t sum = 0;
    if (y.col_stride == 1) {
      for (int64_t c = 0; c < y.cols; ++c) sum += row[c];  // vectorizes
    } else {
      for (int64_t c = 0; c < y.cols; ++c) sum += row[c * y.col_stride];
    }
    out[r] = sum;
  }
  return {};
}

}  // namespace gemm_int8
