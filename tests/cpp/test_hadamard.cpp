// The Hadamard rotation's host half: the dense factors are Hadamard and
// symmetric, sizes factor as documented, a row rotates like the dense matrix
// H_m (x) H_p / sqrt(n), and bad problems get messages that name the argument.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "gemm_int8/hadamard.h"

namespace gemm_int8 {
namespace {

int sign(int m, int i, int j) {
  if (m == 1) return 1;
  return (hadamard_signs(m)[i] >> j) & 1 ? -1 : 1;
}

// H_n[i][j] from the factors: H_m[a][a'] * (-1)^popcount(b & b').
int entry(const HadamardSize& s, int i, int j) {
  const int p = 1 << s.log2_p;
  const int parity = __builtin_popcount(static_cast<unsigned>((i % p) & (j % p))) & 1;
  return sign(s.m, i / p, j / p) * (parity ? -1 : 1);
}

TEST(Hadamard, DenseFactorsAreSymmetricHadamardMatrices) {
  for (int m : {12, 20, 28}) {
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < m; ++j) {
        EXPECT_EQ(sign(m, i, j), sign(m, j, i)) << m;
        int dot = 0;
        for (int k = 0; k < m; ++k) dot += sign(m, i, k) * sign(m, j, k);
        EXPECT_EQ(dot, i == j ? m : 0) << "m=" << m << " rows " << i << ", " << j;
      }
  }
}

TEST(Hadamard, SizesFactor) {
  struct Case {
    int64_t n;
    int m, log2_p;
  };
  for (const Case c : {Case{1, 1, 0}, Case{4096, 1, 12}, Case{12, 12, 0}, Case{14336, 28, 9},
                       Case{5120, 20, 8}, Case{12288, 12, 10}, Case{32768, 1, 15}}) {
    HadamardSize s;
    ASSERT_TRUE(hadamard_size(c.n, &s).ok()) << c.n;
    EXPECT_EQ(s.m, c.m) << c.n;
    EXPECT_EQ(s.log2_p, c.log2_p) << c.n;
    EXPECT_EQ(s.norm, static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.n))));
  }
  for (int64_t n : {0, 3, 36, 100, 11008, 65536}) {
    HadamardSize s;
    const Status st = hadamard_size(n, &s);
    EXPECT_EQ(st.code(), StatusCode::kValueError) << n;
    EXPECT_NE(st.message().find("got n = " + std::to_string(n)), std::string::npos) << st.message();
  }
}

TEST(Hadamard, RowMatchesTheDenseMatrix) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  for (int64_t n : {2, 8, 12, 24, 20, 40, 28, 112}) {
    HadamardSize s;
    ASSERT_TRUE(hadamard_size(n, &s).ok());
    std::vector<float> row(n);
    for (float& v : row) v = normal(rng);
    const std::vector<float> x = row;
    hadamard_row(row.data(), s);
    for (int j = 0; j < n; ++j) {
      double expected = 0;
      for (int i = 0; i < n; ++i) expected += x[i] * entry(s, i, j);
      expected /= std::sqrt(static_cast<double>(n));
      EXPECT_NEAR(row[j], expected, 1e-5) << "n=" << n << " j=" << j;
    }
  }
}

TEST(Hadamard, ValidationNamesTheArgument) {
  std::vector<float> x(2 * 16), out(2 * 16);
  const Device host = Device::host();
  HadamardProblem p{{x.data(), DType::kFloat32, host, 2, 16, 16, 1},
                    {out.data(), DType::kFloat32, host, 2, 16, 16, 1}};
  EXPECT_TRUE(hadamard_cpu(p).ok());
  HadamardProblem bad = p;
  bad.x.dtype = DType::kInt8;
  EXPECT_EQ(validate_hadamard(bad).message(), "x: expected float32, bfloat16 or float16, got int8");
  bad = p;
  bad.out.cols = 8;
  EXPECT_EQ(validate_hadamard(bad).message(), "out: expected x's shape (2, 16), got (2, 8)");
  bad = p;
  bad.out.data = x.data();
  EXPECT_EQ(validate_hadamard(bad).message(), "out overlaps x in memory");
  bad = p;
  bad.x.cols = bad.out.cols = 10;
  EXPECT_NE(validate_hadamard(bad).message().find("got n = 10"), std::string::npos);
}

}  // namespace
}  // namespace gemm_int8
