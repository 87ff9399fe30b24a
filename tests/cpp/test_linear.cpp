// LinearProblem: validation messages and the fused-kernel boundary (pure
// functions; the kernel itself is tested on the GPU, tests/test_fused_linear.py).
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "core/gemv_rows.h"
#include "gemm_int8/linear.h"
#include "test_helpers.h"

namespace gemm_int8 {
namespace {

// Host buffers for an M x N x K linear layer with bfloat16 x and out.
struct HostLinear {
  std::vector<uint16_t> x, out;
  std::vector<int8_t> weight;
  std::vector<float> weight_scale, bias;
  LinearProblem problem;

  HostLinear(int64_t m, int64_t n, int64_t k)
      : x(m * k + 8), out(m * n), weight(n * k + 16), weight_scale(n), bias(n) {
    problem.x = {x.data(), DType::kBFloat16, Device::host(), m, k, k, 1};
    problem.weight = {weight.data(), DType::kInt8, Device::host(), n, k, k, 1};
    problem.weight_scale = testing::host_vector(weight_scale, DType::kFloat32);
    problem.bias = testing::host_vector(bias, DType::kFloat32);
    problem.out = {out.data(), DType::kBFloat16, Device::host(), m, n, n, 1};
  }
};

void expect_error(const LinearProblem& p, StatusCode code, const std::string& text) {
  const Status s = validate_linear(p);
  EXPECT_EQ(s.code(), code) << s.message();
  EXPECT_NE(s.message().find(text), std::string::npos) << s.message();
}

TEST(Linear, ValidProblemPasses) {
  EXPECT_TRUE(validate_linear(HostLinear(3, 5, 16).problem).ok());
}

TEST(Linear, MessagesNameTheArgument) {
  HostLinear h(3, 5, 16);
  LinearProblem p = h.problem;
  p.x.dtype = DType::kInt8;
  expect_error(p, StatusCode::kTypeError, "x: expected float32, bfloat16 or float16, got int8");
  p = h.problem;
  p.weight.dtype = DType::kFloat32;
  expect_error(p, StatusCode::kTypeError, "weight: expected int8, got float32");
  p = h.problem;
  p.out.dtype = DType::kFloat32;
  expect_error(p, StatusCode::kTypeError, "out: expected x's dtype bfloat16");
  p = h.problem;
  p.weight.cols = 8;
  expect_error(p, StatusCode::kValueError, "weight: expected shape (N, K=16)");
  p = h.problem;
  p.out.cols = 4;
  expect_error(p, StatusCode::kValueError, "out: expected shape (3, 5)");
  p = h.problem;
  p.weight_scale = {};
  expect_error(p, StatusCode::kValueError, "weight_scale: required");
  p = h.problem;
  p.weight_scale.size = 4;
  expect_error(p, StatusCode::kValueError, "weight_scale: expected 1 or 5 values");
  p = h.problem;
  p.bias.dtype = DType::kBFloat16;
  expect_error(p, StatusCode::kTypeError, "bias: expected float32");
  p = h.problem;
  p.bias.size = 1;
  expect_error(p, StatusCode::kValueError, "bias: expected 5 values");
  p = h.problem;
  p.out.device = Device::cuda(0);
  expect_error(p, StatusCode::kValueError, "all tensors must be on one device");
  p = h.problem;
  p.out.data = h.x.data();  // writes over x
  expect_error(p, StatusCode::kValueError, "out: overlaps an input");
}

constexpr DeviceInfo kH200{9, 0, 132, true, true};

TEST(Linear, FusedBoundary) {
  EXPECT_EQ(fused_linear_row(HostLinear(1, 4096, 4096).problem, kH200), gemv::m1_r2_w4_g8);
  EXPECT_EQ(fused_linear_row(HostLinear(2, 4096, 4096).problem, kH200), gemv::m2_r4_w8_g4);
  EXPECT_EQ(fused_linear_row(HostLinear(3, 4096, 4096).problem, kH200), -1);  // quantize + GEMM
  EXPECT_EQ(fused_linear_row(HostLinear(1, 33, 4112).problem, kH200), gemv::m1_r2_w4_g8);
  EXPECT_EQ(fused_linear_row(HostLinear(1, 64, 4100).problem, kH200), -1);  // K % 16
  // x in shared memory: two rows of K = 16384 fit, of K = 16400 do not.
  EXPECT_EQ(fused_linear_row(HostLinear(2, 64, 16384).problem, kH200), gemv::m2_r4_w8_g4);
  EXPECT_EQ(fused_linear_row(HostLinear(2, 64, 16400).problem, kH200), -1);
  EXPECT_EQ(fused_linear_row(HostLinear(1, 64, 16400).problem, kH200), gemv::m1_r2_w4_g8);
  HostLinear misaligned(2, 64, 64);
  misaligned.problem.x.data = misaligned.x.data() + 1;  // 2-byte offset
  EXPECT_EQ(fused_linear_row(misaligned.problem, kH200), -1);
  const DeviceInfo a100{8, 0, 108, true, false};
  EXPECT_EQ(fused_linear_row(HostLinear(1, 64, 64).problem, a100), gemv::m1_r2_w4_g8);
  EXPECT_EQ(fused_linear_row(HostLinear(1, 64, 64).problem, DeviceInfo{7, 5, 40, false, false}),
            -1);  // before sm_80
}

}  // namespace
}  // namespace gemm_int8
