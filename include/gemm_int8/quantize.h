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
  // Rotate each row (kRow only) by the normalized Hadamard matrix of
  // gemm_int8/hadamard.h before quantizing it: q and scales are those of the
  // float32 rotated row, which is never rounded to x's dtype.
  bool hadamard = false;

  // With `transpose` (symmetric, kRow or kTensor only), the same call also
  // writes qt: x's transpose (C, R), quantized along its own rows (x's
  // columns; for kTensor with x's one scale). A training step needs both: q
  // feeds the GEMMs that reduce over x's columns, qt, K-major, those that
  // reduce over x's rows, so no int8 or float matrix is transposed
  // afterwards. qt_scales holds transposed_groups() values.
  bool transpose = false;
  MutableMatrixView qt;  // int8, (x.cols, x.rows), rows of unit column stride
  float* qt_scales = nullptr;
};

// 1 for kTensor, x.rows for kRow, x.cols for kCol.
int64_t quantize_groups(const QuantizeProblem& problem);

// qt's scale count: x.cols for kRow, 1 for kTensor, 0 without a transpose.
int64_t transposed_groups(const QuantizeProblem& problem);

// The qt half of a problem as a problem of its own: x's transposed view
// quantized per row (kRow) or per tensor into qt and qt_scales.
QuantizeProblem transposed_part(const QuantizeProblem& problem);

// Checks dtypes, shapes, strides, devices, pointers and overlaps. Messages
// name the argument (x, q, scales, zero_points, qt, qt_scales).
Status validate_quantize(const QuantizeProblem& problem);

// The rule above on host memory (single-threaded).
Status quantize_cpu(const QuantizeProblem& problem);

}  // namespace gemm_int8
