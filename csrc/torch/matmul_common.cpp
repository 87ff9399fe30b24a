#include "matmul_common.h"

#include <c10/util/Exception.h>

#include <string>
#include <vector>

namespace gemm_int8::torch_ops {
namespace {

// Shapes print as Python lists: "[4, 6]".
std::string shape_str(at::IntArrayRef sizes) {
  std::string s = "[";
  for (size_t i = 0; i < sizes.size(); ++i) s += (i ? ", " : "") + std::to_string(sizes[i]);
  return s + "]";
}

DType to_dtype(at::ScalarType type, const char* name) {
  switch (type) {
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
                                  c10::getDtypeNames(type).first +
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
  v.dtype = to_dtype(t.scalar_type(), name);
  v.device = to_device(t, name);
  v.rows = t.size(0), v.cols = t.size(1);
  v.row_stride = t.stride(0), v.col_stride = t.stride(1);
  return v;
}

// Stands in for the data pointer of an empty vector, which torch may leave
// null: the core reads a null pointer as "absent". Never dereferenced.
alignas(16) const char kEmptyVector[16] = {};

// A vector operand. `column_ok` also accepts (rows, 1) and 0-d tensors (a
// per-tensor value); bias and y_sums must be 1-D. The core checks the size.
VectorView to_vector(const at::Tensor* t, const char* name, const char* rows, bool column_ok) {
  if (t == nullptr) return {};
  const bool rank_ok =
      t->dim() == 1 || (column_ok && (t->dim() == 0 || (t->dim() == 2 && t->size(1) == 1)));
  TORCH_CHECK_VALUE(rank_ok, std::string(name) + ": expected shape (" + rows + ",)" +
                                 (column_ok ? std::string(", (") + rows + ", 1), (1,) or ()" : "") +
                                 ", got " + shape_str(t->sizes()));
  VectorView v;
  v.dtype = to_dtype(t->scalar_type(), name);
  v.device = to_device(*t, name);
  v.size = t->dim() == 0 ? 1 : t->size(0);
  v.stride = t->dim() == 0 ? 1 : t->stride(0);
  v.data = v.size == 0 ? static_cast<const void*>(kEmptyVector) : t->data_ptr();
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

Epilogue to_epilogue(const EpilogueArgs& e) {
  Epilogue out;
  out.alpha = e.alpha;
  out.x_scale = to_vector(e.x_scale, "x_scale", "M", true);
  out.y_scale = to_vector(e.y_scale, "y_scale", "N", true);
  out.bias = to_vector(e.bias, "bias", "N", false);
  out.x_zero_point = to_vector(e.x_zero_point, "x_zero_point", "M", true);
  out.y_sums = to_vector(e.y_sums, "y_sums", "N", false);
  return out;
}

}  // namespace

at::Tensor as_2d(const at::Tensor& t) {
  if (t.dim() == 2) return t;
  const int64_t cols = t.size(-1);
  int64_t rows = 1;
  for (int64_t i = 0; i + 1 < t.dim(); ++i) rows *= t.size(i);
  return t.reshape({rows, cols});
}

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

void gemm_into(const at::Tensor& x, const at::Tensor& y, const EpilogueArgs& epilogue,
               at::Tensor& out, const Compute& compute) {
  check_ranks(x, y);
  const auto expected = out_shape(x, y);
  TORCH_CHECK_VALUE(
      out.sizes() == at::IntArrayRef(expected),
      "out: expected shape " + shape_str(expected) + ", got " + shape_str(out.sizes()));
  const at::Tensor x2d = as_2d(x);
  // A batched out we cannot view as 2-D is computed into a temporary.
  const bool direct = out.dim() == 2 || out.is_contiguous();
  at::Tensor out2d = direct ? as_2d(out) : at::empty({x2d.size(0), y.size(0)}, out.options());
  GemmProblem problem;
  problem.x = to_view<MatrixView>(x2d, "x");
  problem.y = to_view<MatrixView>(y, "y");
  problem.out = to_view<MutableMatrixView>(out2d, "out");
  problem.epilogue = to_epilogue(epilogue);
  throw_if_error(compute(problem));
  if (!direct) out.copy_(out2d.view(out.sizes()));
}

at::Tensor gemm_new(const at::Tensor& x, const at::Tensor& y, const EpilogueArgs& epilogue,
                    std::optional<at::ScalarType> out_dtype, const Compute& compute,
                    Allocate allocate) {
  check_ranks(x, y);
  const at::ScalarType dtype = out_dtype.value_or(at::kBFloat16);
  to_dtype(dtype, "out_dtype");  // an unsupported dtype is named before allocating
  at::Tensor out = allocate(out_shape(x, y), x.options().dtype(dtype));
  gemm_into(x, y, epilogue, out, compute);
  return out;
}

MatrixView matrix_view(const at::Tensor& t, const char* name) {
  return to_view<MatrixView>(t, name);
}

MutableMatrixView mutable_matrix_view(const at::Tensor& t, const char* name) {
  return to_view<MutableMatrixView>(t, name);
}

LinearProblem linear_problem(const at::Tensor& x, const at::Tensor& weight,
                             const at::Tensor& weight_scale, const at::Tensor* bias,
                             at::Tensor* out, Allocate allocate) {
  const at::Tensor x2d = as_2d(x);
  *out = allocate(out_shape(x, weight), x.options());
  LinearProblem p;
  p.x = to_view<MatrixView>(x2d, "x");
  p.weight = to_view<MatrixView>(weight, "weight");
  p.weight_scale = to_vector(&weight_scale, "weight_scale", "N", true);
  p.bias = to_vector(bias, "bias", "N", false);
  p.out = to_view<MutableMatrixView>(as_2d(*out), "out");
  return p;
}

MatrixView row_sums_input(const at::Tensor& y) {
  TORCH_CHECK_VALUE(y.dim() == 2,
                    "y: expected a 2-D tensor of shape (N, K), got shape " + shape_str(y.sizes()));
  return to_view<MatrixView>(y, "y");
}

at::Tensor row_sums_output(const at::Tensor& y) {
  return at::empty({y.size(0)}, y.options().dtype(at::kInt));
}

}  // namespace gemm_int8::torch_ops
