#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/narrow_float.h"
#include "gemm_int8/cpu.h"
#include "gemm_int8/row_sums.h"
#include "test_helpers.h"

namespace gemm_int8 {
namespace {

using testing::HostProblem;

// Same arithmetic as the contract: int64 sum, float32 cast, float32 multiply, RNE.
uint16_t reference(const HostProblem& h, int64_t i, int64_t j) {
  const auto& p = h.problem;
  int64_t sum = 0;
  for (int64_t k = 0; k < p.k(); ++k)
    sum += int64_t{h.x[i * p.k() + k]} * int64_t{h.y[j * p.k() + k]};
  return float_to_bf16_bits(static_cast<float>(sum) * p.epilogue.alpha_f32());
}

TEST(Bf16, RoundsToNearestEven) {
  EXPECT_EQ(float_to_bf16_bits(1.0f), 0x3f80);
  EXPECT_EQ(float_to_bf16_bits(-0.0f), 0x8000);
  uint32_t halfway = 0x3f808000u;  // exactly between 0x3f80 and 0x3f81: ties to even
  float f;
  std::memcpy(&f, &halfway, 4);
  EXPECT_EQ(float_to_bf16_bits(f), 0x3f80);
  halfway = 0x3f818000u;
  std::memcpy(&f, &halfway, 4);
  EXPECT_EQ(float_to_bf16_bits(f), 0x3f82);
  EXPECT_EQ(float_to_bf16_bits(3.4e38f), 0x7f80);  // rounds up to inf
}

class CpuGemm : public ::testing::TestWithParam<std::tuple<int, int, int>> {};

TEST_P(CpuGemm, MatchesTheExactReference) {
  const auto [m, n, k] = GetParam();
  HostProblem h(m, n, k, -0.375);
  std::mt19937 rng(m * 7919 + n * 31 + k);
  std::uniform_int_distribution<int> dist(-128, 127);
  for (auto& v : h.x) v = static_cast<int8_t>(dist(rng));
  for (auto& v : h.y) v = static_cast<int8_t>(dist(rng));
  ASSERT_TRUE(matmul_cpu(h.problem, 2).ok());
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      ASSERT_EQ(h.out[i * n + j], reference(h, i, j)) << "at (" << i << ", " << j << ")";
}

INSTANTIATE_TEST_SUITE_P(Shapes, CpuGemm,
                         ::testing::Values(std::make_tuple(1, 1, 1), std::make_tuple(3, 70, 5),
                                           std::make_tuple(17, 65, 1025),
                                           std::make_tuple(40, 130, 2100),
                                           std::make_tuple(4, 2, 16), std::make_tuple(9, 131, 33),
                                           std::make_tuple(64, 64, 1041)));

TEST(CpuGemmEdges, ExtremeValuesAtMaxK) {
  HostProblem h(1, 2, kMaxK);
  std::fill(h.x.begin(), h.x.end(), int8_t{-128});
  std::fill(h.y.begin(), h.y.end(), int8_t{-128});
  ASSERT_TRUE(matmul_cpu(h.problem).ok());
  EXPECT_EQ(h.out[0], float_to_bf16_bits(static_cast<float>(int64_t{16384} * kMaxK)));
}

TEST(CpuGemmEdges, RefusesDeviceMemory) {
  HostProblem h(2, 2, 2);
  h.problem.x.device = h.problem.y.device = h.problem.out.device = Device::cuda(0);
  EXPECT_EQ(matmul_cpu(h.problem).code(), StatusCode::kValueError);
}

}  // namespace
}  // namespace gemm_int8

// The full epilogue, every out dtype, and the narrow-float conversions.
namespace gemm_int8 {
namespace {

using testing::host_vector;

uint16_t half_bits_of(float f) { return float_to_half_bits(f); }

float from_bits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

TEST(Half, RoundsToNearestEven) {
  EXPECT_EQ(half_bits_of(1.0f), 0x3c00);
  EXPECT_EQ(half_bits_of(-0.0f), 0x8000);
  EXPECT_EQ(half_bits_of(0.0f), 0x0000);
  EXPECT_EQ(half_bits_of(65504.0f), 0x7bff);                    // largest half
  EXPECT_EQ(half_bits_of(1.0f + 0x1p-11f), 0x3c00);             // tie: to even
  EXPECT_EQ(half_bits_of(1.0f + 3 * 0x1p-11f), 0x3c02);         // tie: to even (up)
  EXPECT_EQ(half_bits_of(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);  // just above the tie
  EXPECT_EQ(half_bits_of(2.0f - 0x1p-12f), 0x4000);             // carries into the exponent
}

TEST(Half, OverflowInfinityAndNaN) {
  EXPECT_EQ(half_bits_of(65519.99f), 0x7bff);
  EXPECT_EQ(half_bits_of(65520.0f), 0x7c00);  // the tie above 65504 rounds to inf
  EXPECT_EQ(half_bits_of(-1e10f), 0xfc00);
  EXPECT_EQ(half_bits_of(INFINITY), 0x7c00);
  EXPECT_EQ(half_bits_of(-INFINITY), 0xfc00);
  const uint16_t nan = half_bits_of(std::nanf(""));
  EXPECT_EQ(nan & 0x7c00, 0x7c00);
  EXPECT_NE(nan & 0x03ff, 0);
  EXPECT_NE(half_bits_of(from_bits(0x7f800001u)) & 0x03ff, 0);  // a signalling payload stays NaN
}

TEST(Half, Subnormals) {
  EXPECT_EQ(half_bits_of(0x1p-24f), 0x0001);  // smallest subnormal
  EXPECT_EQ(half_bits_of(0x1p-25f), 0x0000);  // tie: to even (zero)
  EXPECT_EQ(half_bits_of(-0x1p-25f), 0x8000);
  EXPECT_EQ(half_bits_of(0x1p-25f + 0x1p-40f), 0x0001);  // just above the tie
  EXPECT_EQ(half_bits_of(3 * 0x1p-25f), 0x0002);         // 1.5 ulp: to even
  EXPECT_EQ(half_bits_of(1023 * 0x1p-24f), 0x03ff);      // largest subnormal
  EXPECT_EQ(half_bits_of(1023.5f * 0x1p-24f), 0x0400);   // rounds up to the smallest normal
  EXPECT_EQ(half_bits_of(0x1p-14f), 0x0400);
  EXPECT_EQ(half_bits_of(1e-30f), 0x0000);
  for (uint16_t bits = 0; bits < 0x7c00; ++bits)  // every finite half round-trips
    ASSERT_EQ(half_bits_of(half_bits_to_float(bits)), bits) << bits;
}

// The contract written out: int32 wraparound, then fmaf(xs * ys, float, bias).
int32_t reference_corrected(int32_t acc, int32_t zp, int32_t y_sum) {
  return static_cast<int32_t>(static_cast<uint32_t>(acc) -
                              static_cast<uint32_t>(zp) * static_cast<uint32_t>(y_sum));
}

float reference_value(int32_t corrected, float xs, float ys, float bias) {
  return std::fmaf(xs * ys, static_cast<float>(corrected), bias);
}

struct EpilogueVariant {
  DType out;
  bool per_row_scales, bias, out_dtype_bias, zero_point, per_row_zero_point;
};

class CpuEpilogue : public ::testing::TestWithParam<EpilogueVariant> {};

TEST_P(CpuEpilogue, MatchesTheFmaReference) {
  const EpilogueVariant v = GetParam();
  const int64_t m = 13, n = 70, k = 77;
  testing::HostProblem h(m, n, k);
  std::mt19937 rng(static_cast<unsigned>(v.out) * 97 + v.per_row_scales * 7 + v.bias);
  std::uniform_int_distribution<int> byte(-128, 127);
  std::uniform_real_distribution<float> real(-2.0f, 2.0f);
  for (auto& b : h.x) b = static_cast<int8_t>(byte(rng));
  for (auto& b : h.y) b = static_cast<int8_t>(byte(rng));
  h.problem.out.dtype = v.out;
  const bool scaled = v.out != DType::kInt32;
  std::vector<float> xs(v.per_row_scales ? m : 1), ys(v.per_row_scales ? n : 1), bias(n);
  for (auto& s : xs) s = real(rng) * 1e-3f;
  for (auto& s : ys) s = real(rng);
  for (auto& b : bias) b = real(rng) * 100;
  std::vector<uint16_t> bias16(n);
  for (int64_t j = 0; j < n; ++j) {  // a 16-bit bias and its exact float value
    bias16[j] =
        v.out == DType::kFloat16 ? float_to_half_bits(bias[j]) : float_to_bf16_bits(bias[j]);
    if (v.out_dtype_bias)
      bias[j] =
          v.out == DType::kFloat16 ? half_bits_to_float(bias16[j]) : bf16_bits_to_float(bias16[j]);
  }
  std::vector<int32_t> zp(v.per_row_zero_point ? m : 1), sums(n);
  for (auto& z : zp) z = byte(rng);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t c = 0; c < k; ++c) sums[j] += h.y[j * k + c];
  auto& e = h.problem.epilogue;
  if (scaled) {
    e.x_scale = host_vector(xs, DType::kFloat32);
    e.y_scale = host_vector(ys, DType::kFloat32);
  }
  if (v.bias && scaled)
    e.bias = v.out_dtype_bias && v.out != DType::kFloat32 ? host_vector(bias16, v.out)
                                                          : host_vector(bias, DType::kFloat32);
  if (v.zero_point) {
    e.x_zero_point = host_vector(zp, DType::kInt32);
    e.y_sums = host_vector(sums, DType::kInt32);
  }
  const Status st = matmul_cpu(h.problem, 2);
  ASSERT_TRUE(st.ok()) << st.message();
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      int32_t acc = 0;
      for (int64_t c = 0; c < k; ++c) acc += int32_t{h.x[i * k + c]} * int32_t{h.y[j * k + c]};
      const int32_t z = v.zero_point ? zp[v.per_row_zero_point ? i : 0] : 0;
      const int32_t s = v.zero_point ? sums[j] : 0;
      const int32_t corrected = reference_corrected(acc, z, s);
      const float value = reference_value(corrected, scaled ? xs[v.per_row_scales ? i : 0] : 1.0f,
                                          scaled ? ys[v.per_row_scales ? j : 0] : 1.0f,
                                          v.bias && scaled ? bias[j] : -0.0f);
      const int64_t at = i * n + j;
      switch (v.out) {
        case DType::kInt32: ASSERT_EQ(h.out_at<int32_t>(at), corrected) << i << "," << j; break;
        case DType::kFloat32: {
          uint32_t got, want;
          const float f = h.out_at<float>(at);
          std::memcpy(&got, &f, 4);
          std::memcpy(&want, &value, 4);
          ASSERT_EQ(got, want) << i << "," << j;
          break;
        }
        case DType::kFloat16:
          ASSERT_EQ(h.out_at<uint16_t>(at), float_to_half_bits(value)) << i << "," << j;
          break;
        default: ASSERT_EQ(h.out_at<uint16_t>(at), float_to_bf16_bits(value)) << i << "," << j;
      }
    }
}

std::vector<EpilogueVariant> epilogue_variants() {
  std::vector<EpilogueVariant> all;
  for (DType out : {DType::kBFloat16, DType::kFloat16, DType::kFloat32, DType::kInt32})
    for (int bits = 0; bits < 32; ++bits) {
      const EpilogueVariant v{out,
                              (bits & 1) != 0,
                              (bits & 2) != 0,
                              (bits & 4) != 0,
                              (bits & 8) != 0,
                              (bits & 16) != 0};
      if (v.out_dtype_bias && !v.bias) continue;
      if (v.per_row_zero_point && !v.zero_point) continue;
      all.push_back(v);
    }
  return all;
}

INSTANTIATE_TEST_SUITE_P(Variants, CpuEpilogue, ::testing::ValuesIn(epilogue_variants()),
                         [](const ::testing::TestParamInfo<EpilogueVariant>& info) {
                           const EpilogueVariant& v = info.param;
                           return std::string(dtype_name(v.out)) +
                                  (v.per_row_scales ? "_rowscales" : "_tensorscales") +
                                  (!v.bias            ? ""
                                   : v.out_dtype_bias ? "_outbias"
                                                      : "_f32bias") +
                                  (!v.zero_point          ? ""
                                   : v.per_row_zero_point ? "_rowzp"
                                                          : "_tensorzp");
                         });

TEST(CpuEpilogueEdges, Int32WrapsLikeTheKernels) {
  testing::HostProblem h(1, 1, 1);
  h.x[0] = 127;
  h.y[0] = 127;
  h.problem.out.dtype = DType::kInt32;
  std::vector<int32_t> zp{INT32_MIN}, sums{3};
  h.problem.epilogue.x_zero_point = host_vector(zp, DType::kInt32);
  h.problem.epilogue.y_sums = host_vector(sums, DType::kInt32);
  ASSERT_TRUE(matmul_cpu(h.problem).ok());
  EXPECT_EQ(h.out_at<int32_t>(0), reference_corrected(16129, INT32_MIN, 3));
  EXPECT_EQ(h.out_at<int32_t>(0), static_cast<int32_t>(16129u - 0x80000000u * 3u));
}

TEST(RowSums, ContiguousTransposedAndExtreme) {
  const int64_t n = 37, k = 1000;
  std::vector<int8_t> y(n * k);
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> byte(-128, 127);
  for (auto& b : y) b = static_cast<int8_t>(byte(rng));
  std::vector<int32_t> out(n), want(n);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) want[r] += y[r * k + c];
  ASSERT_TRUE(row_sums_cpu({y.data(), DType::kInt8, Device::host(), n, k, k, 1}, out.data()).ok());
  EXPECT_EQ(out, want);
  // The same memory read as a (k, n) view's transpose: column sums.
  std::vector<int32_t> cols(k, 0), col_want(k, 0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) col_want[c] += y[r * k + c];
  ASSERT_TRUE(row_sums_cpu({y.data(), DType::kInt8, Device::host(), k, n, 1, k}, cols.data()).ok());
  EXPECT_EQ(cols, col_want);
  std::vector<int8_t> low(int64_t{1} << 24, int8_t{-128});
  int32_t sum = 0;
  ASSERT_TRUE(row_sums_cpu({low.data(), DType::kInt8, Device::host(), 1,
                            static_cast<int64_t>(low.size()), 0, 1},
                           &sum)
                  .ok());
  EXPECT_EQ(sum, INT32_MIN);
}

TEST(RowSums, Errors) {
  std::vector<int8_t> y(12);
  int32_t out[3];
  MatrixView v{y.data(), DType::kInt8, Device::host(), 3, 4, 4, 1};
  MatrixView bad = v;
  bad.dtype = DType::kUInt8;
  EXPECT_EQ(row_sums_cpu(bad, out).code(), StatusCode::kTypeError);
  EXPECT_EQ(row_sums_cpu(v, nullptr).message(), "out: data pointer is null");
  EXPECT_NE(row_sums_cpu(v, reinterpret_cast<int32_t*>(y.data())).message().find("out overlaps y"),
            std::string::npos);
  bad = v;
  bad.cols = kMaxRowSumCols + 1;
  EXPECT_NE(row_sums_cpu(bad, out).message().find("exceeds 2^24"), std::string::npos);
  bad = v;
  bad.device = Device::cuda(0);
  EXPECT_EQ(row_sums_cpu(bad, out).code(), StatusCode::kValueError);
  bad = v;
  bad.rows = 0;
  EXPECT_TRUE(row_sums_cpu(bad, nullptr).ok());
}

}  // namespace
}  // namespace gemm_int8
