// The problem description shared by every layer: what to compute, on which
// memory, with which epilogue. Plain data, no torch, no CUDA types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>

namespace gemm_int8 {

// Operand dtypes the kernels take, plus the common ones callers may pass by
// mistake, so validation can name them.
enum class DType : uint8_t {
  kInt8,
  kInt32,
  kBFloat16,
  kFloat16,
  kFloat32,
  kUInt8,
  kInt16,
  kInt64,
  kFloat64,
  kBool,
};

const char* dtype_name(DType dtype);
size_t dtype_size(DType dtype);

// Where a matrix lives. index is the CUDA ordinal; ignored for host memory.
struct Device {
  enum class Kind : uint8_t { kHost, kCuda };
  Kind kind = Kind::kHost;
  int index = 0;

  static Device host() { return {Kind::kHost, 0}; }
  static Device cuda(int index) { return {Kind::kCuda, index}; }
  bool operator==(const Device& o) const {
    return kind == o.kind && (kind == Kind::kHost || index == o.index);
  }
  bool operator!=(const Device& o) const { return !(*this == o); }
};

// A strided 2-D view. Strides are in elements and may be anything >= 0, so
// transposed and sliced operands are described without copies.
template <typename Pointer>
struct BasicMatrixView {
  Pointer data = nullptr;
  DType dtype = DType::kInt8;
  Device device;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t row_stride = 0;
  int64_t col_stride = 1;
};
using MatrixView = BasicMatrixView<const void*>;
using MutableMatrixView = BasicMatrixView<void*>;

// A strided vector: per-row or per-column epilogue operands (scales, bias,
// zero points, row sums). Absent when data is null. size 1 is one value for
// the whole tensor (a broadcast); otherwise the length the role requires.
struct VectorView {
  const void* data = nullptr;
  DType dtype = DType::kFloat32;
  Device device;
  int64_t size = 0;
  int64_t stride = 1;  // elements; validated to be 1 when size > 1
  bool present() const { return data != nullptr; }
  bool per_element() const { return size > 1; }
};

// What happens between the int32 accumulator and the stored output
// (docs/design.md, "Epilogue"):
//   out[m,n] = cast_out(xs[m] * ys[n] * float(acc[m,n] - x_zp[m] * y_sums[n]) + bias[n])
// float32 arithmetic (the product and sum as one fused multiply-add), one
// rounding to out's dtype. xs is x_scale (size 1 or M) or, without it, the
// host float alpha; ys is y_scale (size 1 or N) or 1. Absent bias adds -0.0
// (the additive identity, so -0.0 results keep their sign). int32 out is the
// exact acc - x_zp * y_sums: no scale, alpha or bias may be given.
struct Epilogue {
  double alpha = 1.0;       // validated finite and within float32 range
  VectorView x_scale;       // float32, size 1 or M; excludes alpha != 1
  VectorView y_scale;       // float32, size 1 or N
  VectorView bias;          // size N: float32, or the out dtype (bfloat16, float16)
  VectorView x_zero_point;  // int32, size 1 or M; needs y_sums
  VectorView y_sums;        // int32, size N: the row sums of y

  float alpha_f32() const { return static_cast<float>(alpha); }
};

// out (M x N) = epilogue(x (M x K) . y (N x K)^T)
struct GemmProblem {
  MatrixView x;
  MatrixView y;
  MutableMatrixView out;
  Epilogue epilogue;

  int64_t m() const { return x.rows; }
  int64_t n() const { return y.rows; }
  int64_t k() const { return x.cols; }
};

// The widest access (16, 8, 4, 2 or 1 bytes) with which every row of `v` can
// be read or written whole: the base, the row pitch and the row length are
// multiples of it. 0 if the rows are not contiguous (column stride != 1) or
// overlap (pitch < row length). A single row ignores its pitch.
int row_alignment_bytes(const MatrixView& v);
int row_alignment_bytes(const MutableMatrixView& v);

// The same for the base and the row pitch only, whatever the row length:
// what a TMA load needs, which zero-fills the end of a ragged row itself. A
// matrix whose K is not a multiple of 16 but whose rows start 16 bytes apart
// (a weight padded once, gemm_int8.prepack) is read in place by such kernels.
int pitch_alignment_bytes(const MatrixView& v);

// |sum of K int8 products| <= 16384 * K must fit in int32.
constexpr int64_t kMaxK = 131071;

std::ostream& operator<<(std::ostream& os, DType dtype);
std::ostream& operator<<(std::ostream& os, const Device& device);
std::ostream& operator<<(std::ostream& os, const GemmProblem& problem);

}  // namespace gemm_int8
