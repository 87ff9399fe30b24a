#include "quantize_common.h"

#include <c10/util/Exception.h>

#include <string>
#include <vector>

#include "matmul_common.h"

namespace gemm_int8::torch_ops {
namespace {

Granularity parse_granularity(std::string_view name) {
  if (name == "tensor") return Granularity::kTensor;
  if (name == "row") return Granularity::kRow;
  if (name == "col") return Granularity::kCol;
  TORCH_CHECK_VALUE(
      false, "granularity: expected 'tensor', 'row' or 'col', got '" + std::string(name) + "'");
}

std::vector<int64_t> scale_shape(const at::Tensor& x, Granularity granularity) {
  std::vector<int64_t> shape;
  if (granularity == Granularity::kTensor) return shape;
  shape.assign(x.dim(), 1);
  if (granularity == Granularity::kRow) {
    for (int64_t i = 0; i + 1 < x.dim(); ++i) shape[i] = x.size(i);
  } else {
    shape.back() = x.size(-1);
  }
  return shape;
}

// x (..., K) as (M, K), after naming a 0-d x.
at::Tensor rows_of(const at::Tensor& x) {
  TORCH_CHECK_VALUE(x.dim() >= 1,
                    "x: expected a tensor of shape (..., K), got a 0-d tensor; reshape it to (1,)");
  return as_2d(x);
}

}  // namespace

QuantizeCall::QuantizeCall(const at::Tensor& x, std::string_view granularity, bool asymmetric,
                           bool transpose, bool hadamard, Allocate allocate) {
  const Granularity g = parse_granularity(granularity);
  x2d = rows_of(x);
  const int64_t rows = x2d.size(0);
  problem.x = matrix_view(x2d, "x");  // names an unsupported dtype or device before allocating
  q = allocate(x.sizes(), x.options().dtype(at::kChar));
  const auto shape = scale_shape(x, g);
  scales = allocate(shape, x.options().dtype(at::kFloat));
  if (asymmetric) zero_points = allocate(shape, x.options().dtype(at::kInt));
  problem.q = mutable_matrix_view(as_2d(q), "q");
  problem.scales = scales.numel() ? scales.data_ptr<float>() : nullptr;
  problem.zero_points =
      asymmetric && zero_points.numel() ? zero_points.data_ptr<int32_t>() : nullptr;
  problem.granularity = g;
  problem.asymmetric = asymmetric;
  problem.hadamard = hadamard;
  if (!transpose) return;
  qt = allocate({x2d.size(1), rows}, x.options().dtype(at::kChar));
  qt_scales = g == Granularity::kTensor ? allocate({}, scales.options())
                                        : allocate({x2d.size(1), 1}, scales.options());
  problem.transpose = true;
  problem.qt = mutable_matrix_view(qt, "qt");
  problem.qt_scales = qt_scales.numel() ? qt_scales.data_ptr<float>() : nullptr;
}

HadamardCall::HadamardCall(const at::Tensor& x, Allocate allocate) {
  x2d = rows_of(x);
  problem.x = matrix_view(x2d, "x");
  out = allocate(x.sizes(), x.options());
  problem.out = mutable_matrix_view(as_2d(out), "out");
}

QuantizeResult QuantizeCall::result() const {
  std::optional<at::Tensor> zp;
  if (zero_points.defined()) zp = zero_points;
  return {q, scales, zp};
}

QuantizeTransposeResult QuantizeCall::transpose_result() const {
  return {q, scales, qt, qt_scales};
}

}  // namespace gemm_int8::torch_ops
