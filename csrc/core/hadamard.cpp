#include "gemm_int8/hadamard.h"

#include <cmath>
#include <vector>

#include "core/messages.h"
#include "core/narrow_float.h"
#include "core/validate_parts.h"

namespace gemm_int8 {
namespace {

// Symmetric Hadamard matrices of orders 12, 20 and 28 (Paley's second
// construction over GF(5), GF(9) and GF(13)); bit j of row i: H[i][j] = -1.
// tests/cpp/test_hadamard.cpp checks H H = m I and the symmetry.
constexpr uint32_t kSigns12[12] = {0x0000002, 0x0000aab, 0x00003c8, 0x000096e,
                                   0x0000f20, 0x00005ba, 0x0000c8c, 0x00006e6,
                                   0x000023c, 0x0000b96, 0x00008f0, 0x0000e5a};
constexpr uint32_t kSigns20[20] = {0x0000002, 0x00aaaab, 0x00f3c08, 0x00596ae, 0x00cf320,
                                   0x00659ba, 0x003cf80, 0x00965ea, 0x00f02f0, 0x005ab5a,
                                   0x00cc8cc, 0x0066e66, 0x003e03c, 0x0097a96, 0x000bcf0,
                                   0x00ad65a, 0x00233cc, 0x00b9966, 0x0080f3c, 0x00ea596};
constexpr uint32_t kSigns28[28] = {0x0000002, 0xaaaaaab, 0x30ff0c8, 0x9a55a6e, 0xc3fc320, 0x69569ba,
                                   0x0ff0c8c, 0xa55a6e6, 0x3fc3230, 0x9569b9a, 0xff0c8c0, 0x55a6e6a,
                                   0xfc3230c, 0x569b9a6, 0xf0c8c3c, 0x5a6e696, 0xc3230fc, 0x69b9a56,
                                   0x0c8c3fc, 0xa6e6956, 0x3230ff0, 0x9b9a55a, 0xc8c3fc0, 0x6e6956a,
                                   0x230ff0c, 0xb9a55a6, 0x8c3fc30, 0xe69569a};

float load(const MatrixView& v, int64_t offset) {
  switch (v.dtype) {
    case DType::kFloat32: return static_cast<const float*>(v.data)[offset];
    case DType::kBFloat16: return bf16_bits_to_float(static_cast<const uint16_t*>(v.data)[offset]);
    default: return half_bits_to_float(static_cast<const uint16_t*>(v.data)[offset]);
  }
}

void store(const MutableMatrixView& v, int64_t offset, float value) {
  switch (v.dtype) {
    case DType::kFloat32: static_cast<float*>(v.data)[offset] = value; break;
    case DType::kBFloat16:
      static_cast<uint16_t*>(v.data)[offset] = float_to_bf16_bits(value);
      break;
    default: static_cast<uint16_t*>(v.data)[offset] = float_to_half_bits(value);
  }
}

}  // namespace

const uint32_t* hadamard_signs(int m) {
  switch (m) {
    case 12: return kSigns12;
    case 20: return kSigns20;
    case 28: return kSigns28;
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
      row[c] = load(p.x, r * p.x.row_stride + c * p.x.col_stride);
    hadamard_row(row.data(), size);
    for (int64_t c = 0; c < p.x.cols; ++c)
      store(p.out, r * p.out.row_stride + c * p.out.col_stride, row[c]);
  }
  return {};
}

}  // namespace gemm_int8
