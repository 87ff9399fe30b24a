#include "matmul_common.h"

#include <c10/util/Exception.h>

namespace gemm_int8::torch_ops {
namespace {

// Shapes print as Python lists: "[4, 6]".
std::string shape_str(at::IntArrayRef sizes) {
  std::string s = "[";
  for (size_t i = 0; i < sizes.size(); ++i) s += (i ? ", " : "") + std::to_string(sizes[i]);
  return s + "]";
}

DType to_dtype(const at::Tensor& t, const char* name) {
  switch (t.scalar_type()) {
    case at::kChar: return DType::kInt8;
    case at::kByte: return DType::kUInt8;
    case at::kShort: return DType::kInt16;
    case at::kInt: return DType::kInt32;
    case at::kLong: return DType::kInt64;
    case at::kBFloat16: return DType::kBFloat16;
    case at::kHalf: return DType::kFloat16;
    case at::kFloat: return DType::kFloat32;
    case at::kDouble: return DType::kFloat64;
    case at::kBool: return DType::kBool;
    default:
      TORCH_CHECK_TYPE(false, std::string(name) + ": dtype torch." +
                                  c10::getDtypeNames(t.scalar_type()).first +
                                  " is not supported by gemm_int8");
  }
}

Device to_device(const at::Tensor& t, const char* name) {
  if (t.is_cpu()) return Device::host();
  if (t.is_cuda()) return Device::cuda(t.get_device());
  TORCH_CHECK_VALUE(false, std::string(name) + ": tensors on " + t.device().str() +
                               " are not supported (cpu or cuda)");
}

template <typename View>
View to_view(const at::Tensor& t, const char* name) {
  TORCH_INTERNAL_ASSERT(t.dim() == 2);
  View v;
  v.data = t.data_ptr();
  v.dtype = to_dtype(t, name);
  v.device = to_device(t, name);
  v.rows = t.size(0), v.cols = t.size(1);
  v.row_stride = t.stride(0), v.col_stride = t.stride(1);
  return v;
}

std::vector<int64_t> out_shape(const at::Tensor& x, const at::Tensor& y) {
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end() - 1);
  shape.push_back(y.size(0));
  return shape;
}

void check_ranks(const at::Tensor& x, const at::Tensor& y) {
  TORCH_CHECK_VALUE(x.dim() >= 1, "x: expected a tensor of shape (..., K), got a 0-d tensor");
  TORCH_CHECK_VALUE(y.dim() == 2,
                    "y: expected a 2-D tensor of shape (N, K), got shape " + shape_str(y.sizes()));
}

// (..., K) -> (M, K): a view when the strides allow it, else a copy.
at::Tensor as_2d(const at::Tensor& t) {
  if (t.dim() == 2) return t;
  const int64_t cols = t.size(-1);
  int64_t rows = 1;
  for (int64_t i = 0; i + 1 < t.dim(); ++i) rows *= t.size(i);
  return t.reshape({rows, cols});
}

}  // namespace

void throw_if_error(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk: return;
    case StatusCode::kTypeError: TORCH_CHECK_TYPE(false, status.message());
    case StatusCode::kValueError: TORCH_CHECK_VALUE(false, status.message());
    case StatusCode::kNotSupported: TORCH_CHECK_NOT_IMPLEMENTED(false, status.message());
    case StatusCode::kOutOfMemory: TORCH_CHECK_WITH(OutOfMemoryError, false, status.message());
    case StatusCode::kCudaError: TORCH_CHECK(false, "gemm_int8: " + status.message());
  }
  TORCH_CHECK(false, "gemm_int8: " + status.message());
}

at::Tensor& matmul_into(const at::Tensor& x, const at::Tensor& y, double alpha, at::Tensor& out,
                        const Compute& compute) {
  check_ranks(x, y);
  const auto expected = out_shape(x, y);
  TORCH_CHECK_VALUE(
      out.sizes() == at::IntArrayRef(expected),
      "out: expected shape " + shape_str(expected) + ", got " + shape_str(out.sizes()));
  const at::Tensor x2d = as_2d(x);
  // A batched out we cannot view as 2-D is computed into a temporary.
  const bool direct = out.dim() == 2 || out.is_contiguous();
  at::Tensor out2d = direct ? out.view({x2d.size(0), y.size(0)})
                            : at::empty({x2d.size(0), y.size(0)}, out.options());
  GemmProblem problem;
  problem.x = to_view<MatrixView>(x2d, "x");
  problem.y = to_view<MatrixView>(y, "y");
  problem.out = to_view<MutableMatrixView>(out2d, "out");
  problem.epilogue.alpha = alpha;
  throw_if_error(compute(problem));
  if (!direct) out.copy_(out2d.view(out.sizes()));
  return out;
}

at::Tensor matmul_new(const at::Tensor& x, const at::Tensor& y, double alpha,
                      const Compute& compute) {
  check_ranks(x, y);
  at::Tensor out = at::empty(out_shape(x, y), x.options().dtype(at::kBFloat16));
  matmul_into(x, y, alpha, out, compute);
  return out;
}

}  // namespace gemm_int8::torch_ops
