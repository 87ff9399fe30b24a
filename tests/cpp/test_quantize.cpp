#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/narrow_float.h"
#include "core/quantize_math.h"
#include "gemm_int8/hadamard.h"
#include "gemm_int8/quantize.h"

namespace gemm_int8 {
namespace {

// Host buffers for quantizing a rows x cols float32 matrix.
struct HostQuantize {
  std::vector<float> x;
  std::vector<int8_t> q;
  std::vector<float> scales;
  std::vector<int32_t> zero_points;
  QuantizeProblem problem;

  HostQuantize(int64_t rows, int64_t cols, std::vector<float> values, Granularity g,
               bool asymmetric = false)
      : x(std::move(values)), q(rows * cols) {
    problem.x = {x.data(), DType::kFloat32, Device::host(), rows, cols, cols, 1};
    problem.q = {q.data(), DType::kInt8, Device::host(), rows, cols, cols, 1};
    problem.granularity = g;
    problem.asymmetric = asymmetric;
    scales.resize(quantize_groups(problem));
    zero_points.resize(scales.size());
    problem.scales = scales.data();
    problem.zero_points = asymmetric ? zero_points.data() : nullptr;
  }
};

// divide() must be the correctly rounded quotient wherever it skips the
// division: random quotients over the scale range it accepts, quotients a
// few ulps from every half-integer (where a wrong last bit changes rint) and
// scales whose reciprocal rounds worst (mantissas near 1 and 2).
TEST(Quantize, ReciprocalDivisionIsCorrectlyRounded) {
  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> mantissa(1.0f, 2.0f);
  std::uniform_int_distribution<int> exponent(-64, 63);
  std::uniform_real_distribution<float> quotient(-255.0f, 255.0f);
  std::uniform_int_distribution<int> half(-255, 254);
  std::uniform_int_distribution<int> ulps(-3, 3);
  int64_t checked = 0, fast = 0;
  for (int i = 0; i < 400000; ++i) {
    float scale = std::ldexp(mantissa(rng), exponent(rng));
    if (i % 4 == 1)
      scale = std::ldexp(1.0f + std::ldexp(static_cast<float>(i % 97), -23), exponent(rng));
    if (i % 4 == 2)
      scale = std::ldexp(2.0f - std::ldexp(static_cast<float>(1 + i % 97), -23), exponent(rng));
    QuantParams p;
    p.scale = scale;
    p.inv_scale = reciprocal_for_divide(scale);
    fast += p.inv_scale != 0.0f;
    for (int j = 0; j < 8; ++j) {
      float x = j < 4 ? quotient(rng) * scale : (half(rng) + 0.5f) * scale;
      for (int u = ulps(rng); u != 0; u += u > 0 ? -1 : 1)
        x = std::nextafter(x, u > 0 ? INFINITY : -INFINITY);
      const float want = x / scale, got = divide(x, p);
      ASSERT_EQ(std::memcmp(&want, &got, sizeof(float)), 0)
          << "x " << x << " scale " << scale << ": " << got << " vs " << want;
      ++checked;
    }
  }
  EXPECT_GT(fast, 390000);
  EXPECT_EQ(checked, 3200000);
}

// Out of [2^-64, 2^64], and for zero, inf and NaN, divide() divides.
TEST(Quantize, ReciprocalDivisionFallsBackOutsideItsRange) {
  for (float scale : {0.0f, 1e-30f, 1e30f, INFINITY, NAN, 1e-45f})
    EXPECT_EQ(reciprocal_for_divide(scale), 0.0f) << scale;
  EXPECT_EQ(reciprocal_for_divide(4.0f), 0.25f);
}

TEST(Quantize, RowsRoundHalfToEvenAndClamp) {
  HostQuantize h(2, 4, {127, 0.5f, 1.5f, -2.5f, 254, 1, 3, -254}, Granularity::kRow);
  ASSERT_TRUE(quantize_cpu(h.problem).ok());
  EXPECT_EQ(h.scales, (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(h.q, (std::vector<int8_t>{127, 0, 2, -2, 127, 0, 2, -127}));
}

TEST(Quantize, TensorAndColumnGroups) {
  HostQuantize t(2, 2, {1, -254, 127, 0}, Granularity::kTensor);
  ASSERT_TRUE(quantize_cpu(t.problem).ok());
  EXPECT_EQ(t.scales, (std::vector<float>{2.0f}));
  EXPECT_EQ(t.q, (std::vector<int8_t>{0, -127, 64, 0}));  // 63.5 -> 64 (even)
  HostQuantize c(2, 2, {1, -254, 127, 0}, Granularity::kCol);
  ASSERT_TRUE(quantize_cpu(c.problem).ok());
  EXPECT_EQ(c.scales, (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(c.q, (std::vector<int8_t>{1, -127, 127, 0}));
}

TEST(Quantize, AsymmetricUsesTheFullRange) {
  HostQuantize h(1, 4, {0, 255, 127.5f, 3}, Granularity::kRow, true);
  ASSERT_TRUE(quantize_cpu(h.problem).ok());
  EXPECT_EQ(h.scales[0], 1.0f);
  EXPECT_EQ(h.zero_points[0], -128);
  EXPECT_EQ(h.q, (std::vector<int8_t>{-128, 127, 0, -125}));
}

TEST(Quantize, ZeroRowsGetScaleOne) {
  HostQuantize h(1, 3, {0, -0.0f, 0}, Granularity::kRow);
  ASSERT_TRUE(quantize_cpu(h.problem).ok());
  EXPECT_EQ(h.scales[0], 1.0f);
  EXPECT_EQ(h.q, (std::vector<int8_t>{0, 0, 0}));
  HostQuantize a(1, 3, {0, 0, 0}, Granularity::kRow, true);
  ASSERT_TRUE(quantize_cpu(a.problem).ok());
  EXPECT_EQ(a.scales[0], 1.0f);
  EXPECT_EQ(a.zero_points[0], -128);
  EXPECT_EQ(a.q, (std::vector<int8_t>{-128, -128, -128}));
}

TEST(Quantize, NanAndInfPropagateToTheScale) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  HostQuantize h(3, 2, {nan, 1, 1, inf, 2, 1}, Granularity::kRow);
  ASSERT_TRUE(quantize_cpu(h.problem).ok());
  EXPECT_TRUE(std::isnan(h.scales[0]));
  EXPECT_TRUE(std::isinf(h.scales[1]));
  EXPECT_EQ(h.q, (std::vector<int8_t>{0, 0, 0, 0, 127, 64}));
}

TEST(Quantize, HalfInputsWidenExactly) {
  std::vector<uint16_t> bits = {float_to_half_bits(65504.0f), float_to_half_bits(-1.0f)};
  std::vector<int8_t> q(2);
  float scale = 0;
  QuantizeProblem p;
  p.x = {bits.data(), DType::kFloat16, Device::host(), 1, 2, 2, 1};
  p.q = {q.data(), DType::kInt8, Device::host(), 1, 2, 2, 1};
  p.scales = &scale;
  ASSERT_TRUE(quantize_cpu(p).ok());
  EXPECT_EQ(scale, 65504.0f / 127.0f);
  EXPECT_EQ(q, (std::vector<int8_t>{127, 0}));
}

TEST(Quantize, ValidationNamesTheArgument) {
  HostQuantize h(2, 2, {1, 2, 3, 4}, Granularity::kRow);
  QuantizeProblem p = h.problem;
  p.x.dtype = DType::kInt8;
  Status s = validate_quantize(p);
  EXPECT_EQ(s.code(), StatusCode::kTypeError);
  EXPECT_EQ(s.message(), "x: expected float32, bfloat16 or float16, got int8");
  p = h.problem;
  p.q.dtype = DType::kInt32;
  EXPECT_EQ(validate_quantize(p).message(), "q: expected int8, got int32");
  p = h.problem;
  p.q.cols = 3;
  EXPECT_EQ(validate_quantize(p).message(), "q: expected x's shape (2, 2), got (2, 3)");
  p = h.problem;
  p.scales = nullptr;
  EXPECT_EQ(validate_quantize(p).message(), "scales: data pointer is null");
  p = h.problem;
  p.asymmetric = true;
  EXPECT_EQ(validate_quantize(p).message(), "zero_points: required for asymmetric quantization");
  p = h.problem;
  p.q.data = h.x.data();
  EXPECT_EQ(validate_quantize(p).message(), "q overlaps x in memory");
  p = h.problem;
  p.q.device = Device::cuda(0);
  EXPECT_EQ(validate_quantize(p).code(), StatusCode::kValueError);
}

TEST(Quantize, EmptyTensorsAreValid) {
  HostQuantize h(0, 5, {}, Granularity::kCol);
  ASSERT_TRUE(quantize_cpu(h.problem).ok());
  EXPECT_EQ(h.scales, std::vector<float>(5, 1.0f));
}

// HostQuantize plus the transpose outputs.
struct HostTransposeQuantize : HostQuantize {
  std::vector<int8_t> qt;
  std::vector<float> qt_scales;

  HostTransposeQuantize(int64_t rows, int64_t cols, std::vector<float> values, Granularity g)
      : HostQuantize(rows, cols, std::move(values), g), qt(rows * cols) {
    problem.transpose = true;
    problem.qt = {qt.data(), DType::kInt8, Device::host(), cols, rows, rows, 1};
    qt_scales.resize(transposed_groups(problem));
    problem.qt_scales = qt_scales.data();
  }
};

// qt is, bit for bit, the plain quantization of x's transpose (per row of
// x^T, or per tensor), and q is unchanged by asking for qt.
TEST(QuantizeTranspose, EqualsQuantizingTheTransposedView) {
  const int64_t rows = 7, cols = 5;
  std::vector<float> x(rows * cols);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (float& v : x) v = normal(rng);
  x[3] = 0.0f;
  for (Granularity g : {Granularity::kRow, Granularity::kTensor}) {
    HostTransposeQuantize both(rows, cols, x, g);
    ASSERT_TRUE(quantize_cpu(both.problem).ok()) << quantize_cpu(both.problem).message();
    HostQuantize plain(rows, cols, x, g);
    ASSERT_TRUE(quantize_cpu(plain.problem).ok());
    EXPECT_EQ(both.q, plain.q);
    EXPECT_EQ(both.scales, plain.scales);
    std::vector<float> xt(rows * cols);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) xt[c * rows + r] = x[r * cols + c];
    HostQuantize transposed(cols, rows, xt, g);
    ASSERT_TRUE(quantize_cpu(transposed.problem).ok());
    EXPECT_EQ(both.qt, transposed.q) << granularity_name(g);
    EXPECT_EQ(both.qt_scales, transposed.scales) << granularity_name(g);
  }
}

TEST(QuantizeTranspose, RejectsWhatItCannotDo) {
  auto message = [](const QuantizeProblem& p) { return validate_quantize(p).message(); };
  HostTransposeQuantize t(4, 6, std::vector<float>(24, 1.0f), Granularity::kRow);
  QuantizeProblem p = t.problem;
  p.granularity = Granularity::kCol;
  EXPECT_NE(message(p).find("granularity: expected row or tensor"), std::string::npos);
  p = t.problem;
  p.asymmetric = true;
  p.zero_points = t.zero_points.data();
  EXPECT_NE(message(p).find("asymmetric"), std::string::npos);
  p = t.problem;
  p.qt.rows = 4;
  p.qt.cols = 6;
  EXPECT_NE(message(p).find("qt: expected x's transposed shape (6, 4)"), std::string::npos);
  p = t.problem;
  p.qt.dtype = DType::kFloat32;
  EXPECT_EQ(validate_quantize(p).code(), StatusCode::kTypeError);
  p = t.problem;
  p.qt_scales = nullptr;
  EXPECT_NE(message(p).find("qt_scales: data pointer is null"), std::string::npos);
  p = t.problem;
  p.qt.data = t.q.data();
  EXPECT_NE(message(p).find("qt overlaps"), std::string::npos);
  p = t.problem;
  p.qt_scales = t.scales.data();
  EXPECT_NE(message(p).find("qt_scales overlaps"), std::string::npos);
  p = t.problem;
  p.qt.col_stride = 4;
  EXPECT_NE(message(p).find("qt: expected rows of unit column stride"), std::string::npos);
  EXPECT_TRUE(validate_quantize(t.problem).ok());
}

TEST(QuantizeTranspose, EmptyGroupsGetUnitScales) {
  HostTransposeQuantize t(0, 3, {}, Granularity::kRow);
  t.qt_scales.assign(3, 0.0f);
  t.problem.qt_scales = t.qt_scales.data();
  ASSERT_TRUE(quantize_cpu(t.problem).ok());
  EXPECT_EQ(t.qt_scales, std::vector<float>(3, 1.0f));
}

// The kernels' branch-free rounding gives quantize_value's bits for every
// group whose reciprocal is usable, values up to the group's max included;
// the group's max itself rounds to at most 127 without a clamp (the device
// code has none).
TEST(Quantize, FiniteRoundingEqualsTheGeneralOne) {
  std::mt19937 rng(99);
  std::uniform_real_distribution<float> mantissa(1.0f, 2.0f);
  std::uniform_int_distribution<int> exponent(-56, 63);  // scales inside [2^-64, 2^64]
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  for (int g = 0; g < 20000; ++g) {
    QuantStats stats;
    stats.hi = std::ldexp(mantissa(rng), exponent(rng));
    const QuantParams p = quant_params<false>(stats);
    ASSERT_NE(p.inv_scale, 0.0f);
    ASSERT_LE(std::nearbyint(divide_by_reciprocal(stats.hi, p)), 127.0f) << stats.hi;
    for (int i = 0; i < 64; ++i) {
      const float v = i == 0 ? stats.hi : (i == 1 ? -stats.hi : unit(rng) * stats.hi);
      ASSERT_EQ(quantize_finite(v, p), quantize_value<false>(v, p)) << v << " / " << p.scale;
    }
  }
}

// QuantizeProblem::hadamard: the plain rule applied to each row rotated in
// float32 (hadamard_row), for both modes; refused where it cannot apply.
TEST(QuantizeHadamard, EqualsQuantizingTheRotatedRows) {
  std::vector<float> values(3 * 24);
  for (size_t i = 0; i < values.size(); ++i)
    values[i] = static_cast<float>((i * 37 % 23) - 11) * 0.37f;
  values[5] = 40.0f;  // an outlier in row 0
  HadamardSize size;
  ASSERT_TRUE(hadamard_size(24, &size).ok());
  std::vector<float> rotated = values;
  for (int r = 0; r < 3; ++r) hadamard_row(rotated.data() + r * 24, size);
  for (bool asymmetric : {false, true}) {
    HostQuantize fused(3, 24, values, Granularity::kRow, asymmetric);
    fused.problem.hadamard = true;
    HostQuantize plain(3, 24, rotated, Granularity::kRow, asymmetric);
    ASSERT_TRUE(quantize_cpu(fused.problem).ok());
    ASSERT_TRUE(quantize_cpu(plain.problem).ok());
    EXPECT_EQ(fused.q, plain.q) << asymmetric;
    EXPECT_EQ(fused.scales, plain.scales) << asymmetric;
    if (asymmetric) EXPECT_EQ(fused.zero_points, plain.zero_points);
  }
}

TEST(QuantizeHadamard, RefusesOtherGranularitiesAndSizes) {
  HostQuantize tensor(2, 16, std::vector<float>(32, 1.0f), Granularity::kTensor);
  tensor.problem.hadamard = true;
  EXPECT_EQ(validate_quantize(tensor.problem).message(),
            "hadamard: a rotation needs row granularity without a transpose, got tensor");
  HostQuantize odd(2, 36, std::vector<float>(72, 1.0f), Granularity::kRow);
  odd.problem.hadamard = true;
  EXPECT_NE(validate_quantize(odd.problem).message().find("got n = 36"), std::string::npos);
  HostQuantize empty(0, 36, {}, Granularity::kRow);
  empty.problem.hadamard = true;  // no rows: nothing to rotate, nothing to refuse
  EXPECT_TRUE(quantize_cpu(empty.problem).ok());
}

}  // namespace
}  // namespace gemm_int8
