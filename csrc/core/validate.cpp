#include "gemm_int8/validate.h"

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>

namespace gemm_int8 {
namespace {

template <typename... Parts>
std::string cat(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}

template <typename View>
std::string shape_of(const View& v) {
  return cat("(", v.rows, ", ", v.cols, ")");
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

// Sizes and strides below 2^40 keep every offset computation inside int64.
constexpr int64_t kMaxExtent = int64_t{1} << 40;

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

}  // namespace

Status validate(const GemmProblem& p) {
  if (p.x.dtype != DType::kInt8)
    return Status::type_error(cat("x: expected int8, got ", dtype_name(p.x.dtype)));
  if (p.y.dtype != DType::kInt8)
    return Status::type_error(cat("y: expected int8, got ", dtype_name(p.y.dtype)));
  if (p.out.dtype != DType::kBFloat16)
    return Status::type_error(cat("out: expected bfloat16, got ", dtype_name(p.out.dtype),
                                  " (other output dtypes are planned)"));
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

  const double alpha = p.epilogue.alpha;
  if (!std::isfinite(alpha)) return Status::value_error(cat("alpha=", alpha, " is not finite"));
  if (std::fabs(alpha) > static_cast<double>(FLT_MAX))
    return Status::value_error(cat("alpha=", alpha, " is outside the float32 range"));

  GEMM_INT8_RETURN_IF_ERROR(check_no_internal_overlap(p.out));
  const ByteRange out_bytes = byte_range(p.out);
  if (out_bytes.overlaps(byte_range(p.x)))
    return Status::value_error("out overlaps x in memory; pass a separate output buffer");
  if (out_bytes.overlaps(byte_range(p.y)))
    return Status::value_error("out overlaps y in memory; pass a separate output buffer");
  return {};
}

}  // namespace gemm_int8
