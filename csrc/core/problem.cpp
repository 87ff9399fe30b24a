#include "gemm_int8/problem.h"

#include <ostream>
#include <utility>

#include "core/epilogue_math.h"

namespace gemm_int8 {

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kInt8: return "int8";
    case DType::kInt32: return "int32";
    case DType::kBFloat16: return "bfloat16";
    case DType::kFloat16: return "float16";
    case DType::kFloat32: return "float32";
    case DType::kUInt8: return "uint8";
    case DType::kInt16: return "int16";
    case DType::kInt64: return "int64";
    case DType::kFloat64: return "float64";
    case DType::kBool: return "bool";
  }
  return "unknown";
}

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kInt8:
    case DType::kUInt8:
    case DType::kBool: return 1;
    case DType::kBFloat16:
    case DType::kFloat16:
    case DType::kInt16: return 2;
    case DType::kInt32:
    case DType::kFloat32: return 4;
    case DType::kInt64:
    case DType::kFloat64: return 8;
  }
  return 0;
}

namespace {
template <typename View>
int row_alignment(const View& v, bool whole_rows) {
  const auto size = static_cast<int64_t>(dtype_size(v.dtype));
  if (v.cols > 1 && v.col_stride != 1) return 0;
  if (v.rows > 1 && v.row_stride < v.cols) return 0;
  const auto base = reinterpret_cast<uintptr_t>(v.data);
  for (int bytes : {16, 8, 4, 2}) {
    const bool pitch_ok = v.rows <= 1 || (v.row_stride * size) % bytes == 0;
    const bool length_ok = !whole_rows || (v.cols * size) % bytes == 0;
    if (base % bytes == 0 && length_ok && pitch_ok) return bytes;
  }
  return 1;
}
}  // namespace

int row_alignment_bytes(const MatrixView& v) { return row_alignment(v, true); }
int row_alignment_bytes(const MutableMatrixView& v) { return row_alignment(v, true); }
int pitch_alignment_bytes(const MatrixView& v) { return row_alignment(v, false); }

EpilogueParams epilogue_params(const Epilogue& e, const float* bias_f32) {
  EpilogueParams p;
  p.x_scale = static_cast<const float*>(e.x_scale.data);
  p.x_scale_step = e.x_scale.per_element() ? 1 : 0;
  p.alpha = e.alpha_f32();
  p.y_scale = static_cast<const float*>(e.y_scale.data);
  p.y_scale_step = e.y_scale.per_element() ? 1 : 0;
  p.bias = bias_f32;
  p.x_zero_point = static_cast<const int32_t*>(e.x_zero_point.data);
  p.x_zero_point_step = e.x_zero_point.per_element() ? 1 : 0;
  p.y_sums = static_cast<const int32_t*>(e.y_sums.data);
  return p;
}

std::ostream& operator<<(std::ostream& os, DType dtype) { return os << dtype_name(dtype); }

std::ostream& operator<<(std::ostream& os, const Device& device) {
  if (device.kind == Device::Kind::kHost) return os << "cpu";
  return os << "cuda:" << device.index;
}

std::ostream& operator<<(std::ostream& os, const GemmProblem& p) {
  return os << "GemmProblem(M=" << p.m() << ", N=" << p.n() << ", K=" << p.k() << ", x strides=("
            << p.x.row_stride << ", " << p.x.col_stride << ")"
            << ", y strides=(" << p.y.row_stride << ", " << p.y.col_stride << ")"
            << ", out=" << p.out.dtype << " strides=(" << p.out.row_stride << ", "
            << p.out.col_stride << "), alpha=" << p.epilogue.alpha;
  const std::pair<const char*, const VectorView*> vectors[] = {
      {"x_scale", &p.epilogue.x_scale},
      {"y_scale", &p.epilogue.y_scale},
      {"bias", &p.epilogue.bias},
      {"x_zero_point", &p.epilogue.x_zero_point},
      {"y_sums", &p.epilogue.y_sums}};
  for (const auto& [name, v] : vectors)
    if (v->present()) os << ", " << name << "=" << v->dtype << "[" << v->size << "]";
  return os << ", on " << p.x.device << ")";
}

}  // namespace gemm_int8
