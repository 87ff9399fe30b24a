#include "gemm_int8/quantize.h"

#include <utility>
#include <vector>

#include "core/messages.h"
#include "core/narrow_float.h"
#include "core/quantize_math.h"
#include "core/validate_parts.h"
#include "gemm_int8/hadamard.h"

namespace gemm_int8 {
namespace {

// Two passes over x: the statistics of every group, then the values.
template <DType kDtype, bool kAsymmetric>
void quantize_host(const QuantizeProblem& p) {
  const MatrixView& x = p.x;
  const int64_t groups = quantize_groups(p);
  auto group_of = [&](int64_t r, int64_t c) {
    return p.granularity == Granularity::kTensor ? 0 : (p.granularity == Granularity::kRow ? r : c);
  };
  std::vector<QuantStats> stats(static_cast<size_t>(groups));
  for (int64_t r = 0; r < x.rows; ++r)
    for (int64_t c = 0; c < x.cols; ++c)
      stats[group_of(r, c)].template add<kAsymmetric>(
          load_as<kDtype>(x.data, r * x.row_stride + c * x.col_stride));
  std::vector<QuantParams> params(static_cast<size_t>(groups));
  for (int64_t g = 0; g < groups; ++g) {
    params[g] = quant_params<kAsymmetric>(stats[g]);
    p.scales[g] = params[g].scale;
    if (kAsymmetric) p.zero_points[g] = params[g].zero_point;
  }
  auto* q = static_cast<int8_t*>(p.q.data);
  for (int64_t r = 0; r < x.rows; ++r)
    for (int64_t c = 0; c < x.cols; ++c)
      q[r * p.q.row_stride + c] = quantize_value<kAsymmetric>(
          load_as<kDtype>(x.data, r * x.row_stride + c * x.col_stride), params[group_of(r, c)]);
}

template <bool kAsymmetric>
void dispatch_dtype(const QuantizeProblem& p) {
  switch (p.x.dtype) {
    case DType::kFloat32: return quantize_host<DType::kFloat32, kAsymmetric>(p);
    case DType::kBFloat16: return quantize_host<DType::kBFloat16, kAsymmetric>(p);
    default: return quantize_host<DType::kFloat16, kAsymmetric>(p);
  }
}

// An int8 output (q or qt) of `rows` x `cols` (`shape`: what that shape is
// called in messages), in rows of unit column stride, on x's device.
Status check_output(const char* name, const MutableMatrixView& out, int64_t rows, int64_t cols,
                    const char* shape, const MatrixView& x) {
  if (out.dtype != DType::kInt8)
    return Status::type_error(cat(name, ": expected int8, got ", dtype_name(out.dtype)));
  GEMM_INT8_RETURN_IF_ERROR(check_view(name, out));
  if (out.rows != rows || out.cols != cols)
    return Status::value_error(cat(name, ": expected ", shape, " (", rows, ", ", cols, "), got (",
                                   out.rows, ", ", out.cols, ")"));
  if (out.rows > 1 && out.cols > 0 && (out.col_stride != 1 || out.row_stride < out.cols))
    return Status::value_error(
        cat(name, ": expected rows of unit column stride that do not overlap, got strides (",
            out.row_stride, ", ", out.col_stride, ")"));
  if (out.rows == 1 && out.cols > 1 && out.col_stride != 1)
    return Status::value_error(cat(name, ": expected unit column stride, got ", out.col_stride));
  if (out.device != x.device)
    return Status::value_error(cat(name, " is on ", out.device, " but x is on ", x.device));
  return {};
}

Status check_scales(const char* name, const float* scales, int64_t groups) {
  if (groups > 0 && scales == nullptr)
    return Status::value_error(cat(name, ": data pointer is null"));
  if (reinterpret_cast<uintptr_t>(scales) % sizeof(float) != 0)
    return Status::value_error(
        cat(name, ": data pointer is not aligned to its 4-byte element size"));
  return {};
}

// qt and its scales: x's transpose, quantized by the rule of q (see quantize.h).
Status validate_transpose(const QuantizeProblem& p) {
  if (p.asymmetric)
    return Status::value_error("asymmetric: a transpose (qt) needs symmetric quantization");
  if (p.granularity == Granularity::kCol)
    return Status::value_error(
        "granularity: expected row or tensor with a transpose (qt), got col");
  GEMM_INT8_RETURN_IF_ERROR(
      check_output("qt", p.qt, p.x.cols, p.x.rows, "x's transposed shape", p.x));
  const int64_t groups = transposed_groups(p);
  GEMM_INT8_RETURN_IF_ERROR(check_scales("qt_scales", p.qt_scales, groups));
  const ByteRange x = byte_range(p.x), q = byte_range(p.q), qt = byte_range(p.qt);
  const ByteRange scales = byte_range(p.scales, quantize_groups(p), sizeof(float));
  const ByteRange qt_scales = byte_range(p.qt_scales, groups, sizeof(float));
  if (qt.overlaps(x) || qt.overlaps(q) || qt.overlaps(scales))
    return Status::value_error("qt overlaps x, q or scales in memory");
  if (qt_scales.overlaps(x) || qt_scales.overlaps(q) || qt_scales.overlaps(scales) ||
      qt_scales.overlaps(qt))
    return Status::value_error("qt_scales overlaps x, q, scales or qt in memory");
  return {};
}

}  // namespace

QuantizeProblem transposed_part(const QuantizeProblem& p) {
  QuantizeProblem t;
  t.x = p.x;
  std::swap(t.x.rows, t.x.cols);
  std::swap(t.x.row_stride, t.x.col_stride);
  t.q = p.qt;
  t.scales = p.qt_scales;
  t.granularity = p.granularity;
  return t;
}

const char* granularity_name(Granularity granularity) {
  switch (granularity) {
    case Granularity::kTensor: return "tensor";
    case Granularity::kRow: return "row";
    case Granularity::kCol: return "col";
  }
  return "?";
}

int64_t transposed_groups(const QuantizeProblem& p) {
  if (!p.transpose) return 0;
  return p.granularity == Granularity::kTensor ? 1 : p.x.cols;
}

int64_t quantize_groups(const QuantizeProblem& p) {
  switch (p.granularity) {
    case Granularity::kTensor: return 1;
    case Granularity::kRow: return p.x.rows;
    case Granularity::kCol: return p.x.cols;
  }
  return 0;
}

Status validate_quantize(const QuantizeProblem& p) {
  if (!is_float_input(p.x.dtype))
    return Status::type_error(
        cat("x: expected float32, bfloat16 or float16, got ", dtype_name(p.x.dtype)));
  if (p.granularity != Granularity::kTensor && p.granularity != Granularity::kRow &&
      p.granularity != Granularity::kCol)
    return Status::value_error("granularity: expected tensor, row or col");
  GEMM_INT8_RETURN_IF_ERROR(check_view("x", p.x));
  GEMM_INT8_RETURN_IF_ERROR(check_output("q", p.q, p.x.rows, p.x.cols, "x's shape", p.x));
  const int64_t groups = quantize_groups(p);
  GEMM_INT8_RETURN_IF_ERROR(check_scales("scales", p.scales, groups));
  if (p.asymmetric && groups > 0 && p.zero_points == nullptr)
    return Status::value_error("zero_points: required for asymmetric quantization");
  if (!p.asymmetric && p.zero_points != nullptr)
    return Status::value_error("zero_points: given for symmetric quantization");
  if (reinterpret_cast<uintptr_t>(p.zero_points) % sizeof(int32_t) != 0)
    return Status::value_error(
        "zero_points: data pointer is not aligned to its 4-byte element size");
  const ByteRange x = byte_range(p.x), q = byte_range(p.q);
  const ByteRange scales = byte_range(p.scales, groups, sizeof(float));
  const ByteRange zps = byte_range(p.zero_points, p.asymmetric ? groups : 0, sizeof(int32_t));
  if (q.overlaps(x)) return Status::value_error("q overlaps x in memory");
  if (scales.overlaps(x) || scales.overlaps(q))
    return Status::value_error("scales overlaps x or q in memory");
  if (zps.overlaps(x) || zps.overlaps(q) || zps.overlaps(scales))
    return Status::value_error("zero_points overlaps x, q or scales in memory");
  if (p.hadamard) {
    if (p.granularity != Granularity::kRow || p.transpose)
      return Status::value_error(
          cat("hadamard: a rotation needs row granularity without a transpose, got ",
              granularity_name(p.granularity), p.transpose ? " with a transpose" : ""));
    HadamardSize size;
    if (p.x.rows > 0) GEMM_INT8_RETURN_IF_ERROR(hadamard_size(p.x.cols, &size));
  }
  return p.transpose ? validate_transpose(p) : Status{};
}

Status quantize_cpu(const QuantizeProblem& problem) {
  GEMM_INT8_RETURN_IF_ERROR(validate_quantize(problem));
  if (problem.x.device.kind != Device::Kind::kHost)
    return Status::value_error("x: quantize_cpu needs host memory");
  QuantizeProblem p = problem;
  std::vector<float> rotated;
  if (p.hadamard && p.x.rows > 0) {  // the rotated rows in float32, then the plain rule
    rotated.resize(static_cast<size_t>(p.x.rows * p.x.cols));
    const HadamardProblem rotation{
        p.x, {rotated.data(), DType::kFloat32, p.x.device, p.x.rows, p.x.cols, p.x.cols, 1}};
    GEMM_INT8_RETURN_IF_ERROR(hadamard_cpu(rotation));
    p.x = {rotated.data(), DType::kFloat32, p.x.device, p.x.rows, p.x.cols, p.x.cols, 1};
  }
  if (p.asymmetric) {
    dispatch_dtype<true>(p);
  } else {
    dispatch_dtype<false>(p);
  }
  if (problem.transpose) dispatch_dtype<false>(transposed_part(problem));
  return {};
}

}  // namespace gemm_int8
