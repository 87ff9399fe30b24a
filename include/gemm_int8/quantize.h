// Float -> int8 quantization: the activations (and weights) that scaled_mm
// consumes. Torch-free. The rule, shared bit for bit by every path
// (docs/design.md, "Quantization"), per group (the whole tensor, a row or a
// column of the 2-D view):
//
//   symmetric:  scale = amax / 127            q = clamp(rint(x / scale), -127, 127)
//   asymmetric: scale = (hi - lo) / 255       zp = clamp(-128 - rint(lo / scale), -128, 127)
//               q = clamp(rint(x / scale) + zp, -128, 127)
//
// with x widened to float32, amax = max |x|, lo = min(min x, 0), hi =
// max(max x, 0), every operation one float32 rounding, rint to nearest even.
// A scale that is 0 (empty or all-zero group) becomes 1. NaN in a group makes
// its scale NaN; inf (without NaN) makes it inf; rint of NaN is 0.
#pragma once

#include <cstdint>

#include "gemm_int8/problem.h"
#include "gemm_int8/status.h"

namespace gemm_int8 {

// Which elements share a scale: all of them, each row, or each column.
enum class Granularity : uint8_t { kTensor, kRow, kCol };

const char* granularity_name(Granularity granularity);

struct QuantizeProblem {
  MatrixView x;                    // float32, bfloat16 or float16; any strides
  MutableMatrixView q;             // int8, x's shape, rows of unit column stride
  float* scales = nullptr;         // float32, quantize_groups() contiguous values
  int32_t* zero_points = nullptr;  // int32, as many; asymmetric only (null otherwise)
  Granularity granularity = Granularity::kRow;
  bool asymmetric = false;
};

// 1 for kTensor, x.rows for kRow, x.cols for kCol.
int64_t quantize_groups(const QuantizeProblem& problem);

// Checks dtypes, shapes, strides, devices, pointers and overlaps. Messages
// name the argument (x, q, scales, zero_points).
Status validate_quantize(const QuantizeProblem& problem);

// The rule above on host memory (single-threaded).
Status quantize_cpu(const QuantizeProblem& problem);

}  // namespace gemm_int8
