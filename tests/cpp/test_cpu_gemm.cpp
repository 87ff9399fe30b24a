#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "core/bf16.h"
#include "gemm_int8/cpu.h"
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
