#include "gemm_int8/hadamard.h"

#include <array>
#include <cmath>
#include <vector>

#include "core/hadamard_signs.h"
#include "core/messages.h"
#include "core/narrow_float.h"
#include "core/validate_parts.h"

namespace gemm_int8 {
namespace {

template <int M>
const uint32_t* sign_table() {
  static const auto table = [] {
    std::array<uint32_t, M> rows{};
    for (int i = 0; i < M; ++i) rows[i] = hadamard_sign_row(M, i);
    return rows;
  }();
  return table.data();
}

}  // namespace

const uint32_t* hadamard_signs(int m) {
  switch (m) {
    case 12: return sign_table<12>();
    case 20: return sign_table<20>();
    case 28: return sign_table<28>();
    default: return nullptr;
  }
}

Status hadamard_size(int64_t n, HadamardSize* size) {
  HadamardSize s;
  int64_t p = n;
  for (const int m : {12, 20, 28})
    if (n > 0 && n % m == 0 && ((n / m) & (n / m - 1)) == 0) s.m = m, p = n / m;
  if (n <= 0 || n > kMaxHadamardSize || (p & (p - 1)) != 0)
    return Status::value_error(
        cat("x: a Hadamard rotation needs rows of n = 2^k, 12 * 2^k, "
            "20 * 2^k or 28 * 2^k values (n <= ",
            kMaxHadamardSize, "), got n = ", n));
  while ((int64_t{1} << s.log2_p) < p) ++s.log2_p;
  s.norm = static_cast<float>(1.0 / std::sqrt(static_cast<double>(n)));
  *size = s;
  return {};
}

void hadamard_row(float* row, const HadamardSize& size) {
  const int64_t p = int64_t{1} << size.log2_p, n = p * size.m;
  for (int64_t h = 1; h < p; h *= 2)
    for (int64_t j = 0; j < n; j += 2 * h)
      for (int64_t i = j; i < j + h; ++i) {
        const float u = row[i], v = row[i + h];
        row[i] = u + v;
        row[i + h] = u - v;
      }
  if (const uint32_t* signs = hadamard_signs(size.m)) {
    std::vector<float> column(static_cast<size_t>(size.m));
    for (int64_t b = 0; b < p; ++b) {
      for (int a = 0; a < size.m; ++a) column[a] = row[a * p + b];
      for (int out = 0; out < size.m; ++out) {
        float sum = 0.0f;
        for (int a = 0; a < size.m; ++a)
          sum = (signs[out] >> a) & 1 ? sum - column[a] : sum + column[a];
        row[out * p + b] = sum;
      }
    }
  }
  for (int64_t i = 0; i < n; ++i) row[i] = row[i] * size.norm;
}

Status validate_hadamard(const HadamardProblem& p) {
  if (!is_float_input(p.x.dtype))
    return Status::type_error(
        cat("x: expected float32, bfloat16 or float16, got ", dtype_name(p.x.dtype)));
  if (!is_float_input(p.out.dtype))
    return Status::type_error(
        cat("out: expected float32, bfloat16 or float16, got ", dtype_name(p.out.dtype)));
  GEMM_INT8_RETURN_IF_ERROR(check_view("x", p.x));
  GEMM_INT8_RETURN_IF_ERROR(check_view("out", p.out));
  if (p.out.rows != p.x.rows || p.out.cols != p.x.cols)
    return Status::value_error(
        cat("out: expected x's shape ", shape_of(p.x), ", got ", shape_of(p.out)));
  if (p.out.device != p.x.device)
    return Status::value_error(cat("out is on ", p.out.device, " but x is on ", p.x.device));
  if (p.x.rows > 0) {
    HadamardSize size;
    GEMM_INT8_RETURN_IF_ERROR(hadamard_size(p.x.cols, &size));
  }
  GEMM_INT8_RETURN_IF_ERROR(check_no_internal_overlap(p.out));
  if (byte_range(p.out).overlaps(byte_range(p.x)))
    return Status::value_error("out overlaps x in memory");
  return {};
}

Status hadamard_cpu(const HadamardProblem& p) {
  GEMM_INT8_RETURN_IF_ERROR(validate_hadamard(p));
  if (p.x.device.kind != Device::Kind::kHost)
    return Status::value_error("x: hadamard_cpu needs host memory");
  if (p.x.rows == 0) return {};
  HadamardSize size;
  GEMM_INT8_RETURN_IF_ERROR(hadamard_size(p.x.cols, &size));
  std::vector<float> row(static_cast<size_t>(p.x.cols));
  for (int64_t r = 0; r < p.x.rows; ++r) {
    for (int64_t c = 0; c < p.x.cols; ++c)
      row[c] = load_float(p.x.dtype, p.x.data, r * p.x.row_stride + c * p.x.col_stride);
    hadamard_row(row.data(), size);
    for (int64_t c = 0; c < p.x.cols; ++c)
      store_float(p.out.dtype, p.out.data, r * p.out.row_stride + c * p.out.col_stride, row[c]);
  }
  return {};
}

}  // namespace gemm_int8
