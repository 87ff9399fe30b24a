#include "gemm_int8/validate.h"

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <utility>

#include "core/messages.h"
#include "core/validate_parts.h"

namespace gemm_int8 {

// Output elements must not share memory, or the result depends on write order.
Status check_no_internal_overlap(const MutableMatrixView& out) {
  int64_t small_size = out.rows, small_stride = out.row_stride;
  int64_t big_size = out.cols, big_stride = out.col_stride;
  if (small_stride > big_stride || (small_stride == big_stride && small_size > big_size)) {
    std::swap(small_size, big_size);
    std::swap(small_stride, big_stride);
  }
  const bool small_ok = small_size <= 1 || small_stride >= 1;
  const bool big_ok =
      big_size <= 1 || big_stride >= small_stride * (small_size > 1 ? small_size : 1);
  if (out.rows > 0 && out.cols > 0 && !(small_ok && big_ok))
    return Status::value_error(cat("out: strides (", out.row_stride, ", ", out.col_stride,
                                   ") make elements of shape ", shape_of(out),
                                   " overlap; out must not be an expanded view"));
  return {};
}

// A per-tensor (size 1) or per-row (size `rows`, `what` names the rows)
// epilogue vector of `dtype` on the problem's device.
Status check_vector(const char* name, const VectorView& v, DType dtype, int64_t rows,
                    const char* what, bool allow_single, const Device& device) {
  if (!v.present()) return {};
  if (v.dtype != dtype)
    return Status::type_error(
        cat(name, ": expected ", dtype_name(dtype), ", got ", dtype_name(v.dtype)));
  const bool single_ok = allow_single && v.size == 1;
  if (v.size != rows && !single_ok)
    return Status::value_error(cat(name, ": expected ", allow_single ? "1 or " : "", rows,
                                   " values (", what, "), got ", v.size));
  if (v.size > 1 && v.stride != 1)
    return Status::value_error(cat(name, ": expected contiguous values, got stride ", v.stride));
  if (v.device != device)
    return Status::value_error(cat(name, " is on ", v.device, " but x is on ", device,
                                   "; all tensors must be on one device"));
  if (reinterpret_cast<uintptr_t>(v.data) % dtype_size(v.dtype) != 0)
    return Status::value_error(cat(name, ": data pointer is not aligned to its ",
                                   dtype_size(v.dtype), "-byte element size"));
  return {};
}

ByteRange byte_range(const void* data, int64_t count, size_t size) {
  const auto begin = reinterpret_cast<uintptr_t>(data);
  return {begin, begin + static_cast<uintptr_t>(count) * size};
}

ByteRange byte_range(const VectorView& v) {
  if (!v.present() || v.size == 0) return {};
  return byte_range(v.data, v.size, dtype_size(v.dtype));
}

namespace {

bool is_out_dtype(DType d) {
  return d == DType::kBFloat16 || d == DType::kFloat16 || d == DType::kFloat32 ||
         d == DType::kInt32;
}

Status check_epilogue(const GemmProblem& p) {
  const Epilogue& e = p.epilogue;
  const double alpha = e.alpha;
  if (!std::isfinite(alpha)) return Status::value_error(cat("alpha=", alpha, " is not finite"));
  if (std::fabs(alpha) > static_cast<double>(FLT_MAX))
    return Status::value_error(cat("alpha=", alpha, " is outside the float32 range"));
  const Device& d = p.x.device;
  GEMM_INT8_RETURN_IF_ERROR(
      check_vector("x_scale", e.x_scale, DType::kFloat32, p.m(), "one per row of x", true, d));
  GEMM_INT8_RETURN_IF_ERROR(
      check_vector("y_scale", e.y_scale, DType::kFloat32, p.n(), "one per row of y", true, d));
  if (e.bias.present()) {
    const bool out_dtype_bias = e.bias.dtype == p.out.dtype && p.out.dtype != DType::kInt32;
    const DType expected = out_dtype_bias ? p.out.dtype : DType::kFloat32;
    if (e.bias.dtype != expected)
      return Status::type_error(cat("bias: expected float32 or the output dtype ",
                                    dtype_name(p.out.dtype), ", got ", dtype_name(e.bias.dtype)));
    GEMM_INT8_RETURN_IF_ERROR(
        check_vector("bias", e.bias, expected, p.n(), "one per row of y", false, d));
  }
  GEMM_INT8_RETURN_IF_ERROR(check_vector("x_zero_point", e.x_zero_point, DType::kInt32, p.m(),
                                         "one per row of x", true, d));
  GEMM_INT8_RETURN_IF_ERROR(
      check_vector("y_sums", e.y_sums, DType::kInt32, p.n(), "the row sums of y", false, d));
  if (e.x_zero_point.present() && !e.y_sums.present())
    return Status::value_error(
        "y_sums: required with x_zero_point (the row sums of y, see gemm_int8.row_sums)");
  if (!e.x_zero_point.present() && e.y_sums.present())
    return Status::value_error("y_sums: given without x_zero_point");
  if (alpha != 1.0 && e.x_scale.present())
    return Status::value_error(
        cat("alpha=", alpha, " and x_scale cannot both be given; fold alpha into x_scale"));
  if (p.out.dtype == DType::kInt32) {
    const char* scaled = alpha != 1.0          ? "alpha"
                         : e.x_scale.present() ? "x_scale"
                         : e.y_scale.present() ? "y_scale"
                         : e.bias.present()    ? "bias"
                                               : nullptr;
    if (scaled)
      return Status::value_error(
          cat(scaled,
              ": int32 output is the exact accumulator; scales, alpha and bias need a "
              "floating output dtype (bfloat16, float16 or float32)"));
  }
  const ByteRange out_bytes = byte_range(p.out);
  const std::pair<const char*, const VectorView*> vectors[] = {{"x_scale", &e.x_scale},
                                                               {"y_scale", &e.y_scale},
                                                               {"bias", &e.bias},
                                                               {"x_zero_point", &e.x_zero_point},
                                                               {"y_sums", &e.y_sums}};
  for (const auto& [name, v] : vectors)
    if (out_bytes.overlaps(byte_range(*v)))
      return Status::value_error(
          cat("out overlaps ", name, " in memory; pass a separate output buffer"));
  return {};
}

}  // namespace

Status validate(const GemmProblem& p) {
  if (p.x.dtype != DType::kInt8)
    return Status::type_error(cat("x: expected int8, got ", dtype_name(p.x.dtype)));
  if (p.y.dtype != DType::kInt8)
    return Status::type_error(cat("y: expected int8, got ", dtype_name(p.y.dtype)));
  if (!is_out_dtype(p.out.dtype))
    return Status::type_error(
        cat("out: expected bfloat16, float16, float32 or int32, got ", dtype_name(p.out.dtype)));
  GEMM_INT8_RETURN_IF_ERROR(check_view("x", p.x));
  GEMM_INT8_RETURN_IF_ERROR(check_view("y", p.y));
  GEMM_INT8_RETURN_IF_ERROR(check_view("out", p.out));

  if (p.y.cols != p.x.cols)
    return Status::value_error(cat("K mismatch: x has K=", p.x.cols, " columns but y has ",
                                   p.y.cols, "; y must have shape (N, ", p.x.cols, ")"));
  if (p.out.rows != p.m() || p.out.cols != p.n())
    return Status::value_error(
        cat("out: expected shape (", p.m(), ", ", p.n(), "), got ", shape_of(p.out)));
  if (p.k() > kMaxK)
    return Status::value_error(
        cat("x: K=", p.k(), " exceeds ", kMaxK,
            ", the largest K whose int32 accumulation cannot overflow "
            "(a sum of K int8 products can reach 16384*K, which must stay below 2^31)"));

  if (p.y.device != p.x.device)
    return Status::value_error(cat("y is on ", p.y.device, " but x is on ", p.x.device,
                                   "; all tensors must be on one device"));
  if (p.out.device != p.x.device)
    return Status::value_error(cat("out is on ", p.out.device, " but x is on ", p.x.device,
                                   "; all tensors must be on one device"));

  GEMM_INT8_RETURN_IF_ERROR(check_epilogue(p));
  GEMM_INT8_RETURN_IF_ERROR(check_no_internal_overlap(p.out));
  const ByteRange out_bytes = byte_range(p.out);
  if (out_bytes.overlaps(byte_range(p.x)))
    return Status::value_error("out overlaps x in memory; pass a separate output buffer");
  if (out_bytes.overlaps(byte_range(p.y)))
    return Status::value_error("out overlaps y in memory; pass a separate output buffer");
  return {};
}

}  // namespace gemm_int8
