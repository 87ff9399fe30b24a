#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "gemm_int8/validate.h"
#include "test_helpers.h"

namespace gemm_int8 {
namespace {

using testing::HostProblem;

void expect_error(const GemmProblem& p, StatusCode code, const std::string& fragment) {
  const Status st = validate(p);
  EXPECT_EQ(st.code(), code) << st.message();
  EXPECT_NE(st.message().find(fragment), std::string::npos)
      << "message '" << st.message() << "' lacks '" << fragment << "'";
}

TEST(Validate, AcceptsAWellFormedProblem) {
  HostProblem h(3, 5, 7);
  EXPECT_TRUE(validate(h.problem).ok());
}

TEST(Validate, NamesTheArgumentWithTheWrongDtype) {
  HostProblem h(3, 5, 7);
  h.problem.x.dtype = DType::kFloat32;
  expect_error(h.problem, StatusCode::kTypeError, "x: expected int8, got float32");
  h.problem.x.dtype = DType::kInt8;
  h.problem.y.dtype = DType::kUInt8;
  expect_error(h.problem, StatusCode::kTypeError, "y: expected int8, got uint8");
  h.problem.y.dtype = DType::kInt8;
  h.problem.out.dtype = DType::kFloat64;
  expect_error(h.problem, StatusCode::kTypeError,
               "out: expected bfloat16, float16, float32 or int32, got float64");
}

TEST(Validate, AcceptsEveryOutDtype) {
  for (DType d : {DType::kBFloat16, DType::kFloat16, DType::kFloat32, DType::kInt32}) {
    HostProblem h(3, 5, 7);
    h.problem.out.dtype = d;
    EXPECT_TRUE(validate(h.problem).ok()) << dtype_name(d);
  }
}

TEST(Validate, KMismatch) {
  HostProblem h(3, 5, 7);
  h.problem.y.cols = 6;
  expect_error(h.problem, StatusCode::kValueError, "K mismatch: x has K=7 columns but y has 6");
}

TEST(Validate, OutShape) {
  HostProblem h(3, 5, 7);
  h.problem.out.cols = 4;
  expect_error(h.problem, StatusCode::kValueError, "out: expected shape (3, 5), got (3, 4)");
}

TEST(Validate, KOverflowBound) {
  HostProblem h(1, 1, 1);
  h.problem.x.cols = h.problem.y.cols = kMaxK;
  h.problem.x.row_stride = h.problem.y.row_stride = kMaxK;
  std::vector<int8_t> big(kMaxK + 1);
  h.problem.x.data = h.problem.y.data = big.data();
  EXPECT_TRUE(validate(h.problem).ok());
  h.problem.x.cols = h.problem.y.cols = kMaxK + 1;
  expect_error(h.problem, StatusCode::kValueError, "K=131072 exceeds 131071");
  EXPECT_LE(int64_t{16384} * kMaxK, int64_t{std::numeric_limits<int32_t>::max()});
  EXPECT_GT(int64_t{16384} * (kMaxK + 1), int64_t{std::numeric_limits<int32_t>::max()});
}

TEST(Validate, Alpha) {
  HostProblem h(2, 2, 2);
  for (double bad : {std::numeric_limits<double>::infinity(), std::nan("")}) {
    h.problem.epilogue.alpha = bad;
    expect_error(h.problem, StatusCode::kValueError, "is not finite");
  }
  h.problem.epilogue.alpha = 1e300;
  expect_error(h.problem, StatusCode::kValueError, "outside the float32 range");
}

TEST(Validate, Devices) {
  HostProblem h(2, 2, 2);
  h.problem.y.device = Device::cuda(0);
  expect_error(h.problem, StatusCode::kValueError, "y is on cuda:0 but x is on cpu");
  h.problem.y.device = Device::host();
  h.problem.out.device = Device::cuda(1);
  expect_error(h.problem, StatusCode::kValueError, "out is on cuda:1 but x is on cpu");
}

TEST(Validate, NullAndMisalignedPointers) {
  HostProblem h(2, 2, 2);
  h.problem.x.data = nullptr;
  expect_error(h.problem, StatusCode::kValueError, "x: data pointer is null");
  HostProblem g(2, 2, 2);
  g.problem.out.data = reinterpret_cast<char*>(g.out.data()) + 1;
  expect_error(g.problem, StatusCode::kValueError, "out: data pointer is not aligned");
}

TEST(Validate, EmptyProblemsNeedNoPointers) {
  HostProblem h(0, 5, 0);
  h.problem.x.data = nullptr;
  h.problem.out.data = nullptr;
  EXPECT_TRUE(validate(h.problem).ok());
}

TEST(Validate, NegativeAndOverlappingStrides) {
  HostProblem h(3, 4, 2);
  h.problem.y.row_stride = -2;
  expect_error(h.problem, StatusCode::kValueError, "y: negative strides");
  HostProblem g(3, 4, 2);
  g.problem.out.row_stride = 0;  // every row is the same memory
  expect_error(g.problem, StatusCode::kValueError, "out: strides (0, 1)");
}

TEST(Validate, OutAliasingInputs) {
  HostProblem h(4, 4, 8);
  h.problem.out.data = h.x.data();
  expect_error(h.problem, StatusCode::kValueError, "out overlaps x");
  HostProblem g(4, 4, 8);
  g.problem.out.data = g.y.data() + 2;
  expect_error(g.problem, StatusCode::kValueError, "out overlaps y");
}

TEST(Validate, InputsMayAliasEachOther) {
  HostProblem h(4, 4, 8);
  h.problem.y.data = h.x.data();  // x @ x.T is legitimate
  EXPECT_TRUE(validate(h.problem).ok());
}

}  // namespace
}  // namespace gemm_int8

namespace gemm_int8 {
namespace {

MatrixView int8_view(uintptr_t address, int64_t rows, int64_t cols, int64_t row_stride,
                     int64_t col_stride = 1) {
  return {reinterpret_cast<const void*>(address),
          DType::kInt8,
          Device::host(),
          rows,
          cols,
          row_stride,
          col_stride};
}

TEST(RowAlignment, WidestAccessThatBaseRowLengthAndPitchAllow) {
  EXPECT_EQ(row_alignment_bytes(int8_view(4096, 8, 4096, 4096)), 16);
  EXPECT_EQ(row_alignment_bytes(int8_view(4096, 8, 1000, 1000)), 8);  // K = 1000
  EXPECT_EQ(row_alignment_bytes(int8_view(4096, 8, 1000, 1004)), 4);
  EXPECT_EQ(row_alignment_bytes(int8_view(4096, 8, 4095, 4095)), 1);
  EXPECT_EQ(row_alignment_bytes(int8_view(4100, 8, 4096, 4096)), 4);  // sliced base
  // One row: its pitch is never used.
  EXPECT_EQ(row_alignment_bytes(int8_view(4096, 1, 1024, 7)), 16);
  // bfloat16 rows count bytes: 4097 elements are 8194 bytes.
  MatrixView out = int8_view(4096, 8, 4097, 4097);
  out.dtype = DType::kBFloat16;
  EXPECT_EQ(row_alignment_bytes(out), 2);
}

TEST(RowAlignment, ZeroForRowsThatAreNotContiguousOrOverlap) {
  EXPECT_EQ(row_alignment_bytes(int8_view(4096, 8, 64, 1, 8)), 0);  // transposed
  EXPECT_EQ(row_alignment_bytes(int8_view(4096, 8, 64, 32)), 0);    // overlapping rows
  EXPECT_EQ(row_alignment_bytes(int8_view(4096, 8, 1, 16, 5)), 1);  // one column: 1-byte rows
}

}  // namespace
}  // namespace gemm_int8

// The epilogue rules of check_epilogue (validate.cpp).
namespace gemm_int8 {
namespace {

using testing::host_vector;
using testing::HostProblem;

struct EpilogueCase : ::testing::Test {
  HostProblem h{3, 5, 7};  // M = 3, N = 5
  std::vector<float> f_m = std::vector<float>(3, 1.0f), f_n = std::vector<float>(5, 1.0f);
  std::vector<float> f_1 = std::vector<float>(1, 1.0f), f_4 = std::vector<float>(4, 1.0f);
  std::vector<int32_t> i_m = std::vector<int32_t>(3, 1), i_n = std::vector<int32_t>(5, 1);
  std::vector<int32_t> i_1 = std::vector<int32_t>(1, 1);
  std::vector<uint16_t> h_n = std::vector<uint16_t>(5, 0);
  Epilogue& e() { return h.problem.epilogue; }
  void expect_ok() {
    const Status st = validate(h.problem);
    EXPECT_TRUE(st.ok()) << st.message();
  }
};

TEST_F(EpilogueCase, ScalesPerTensorOrPerRow) {
  for (auto* xs : {&f_1, &f_m})
    for (auto* ys : {&f_1, &f_n}) {
      e().x_scale = host_vector(*xs, DType::kFloat32);
      e().y_scale = host_vector(*ys, DType::kFloat32);
      expect_ok();
    }
  e().x_scale = host_vector(f_4, DType::kFloat32);
  expect_error(h.problem, StatusCode::kValueError,
               "x_scale: expected 1 or 3 values (one per row of x), got 4");
  e().x_scale = host_vector(f_m, DType::kFloat32);
  e().y_scale = host_vector(f_m, DType::kFloat32);
  expect_error(h.problem, StatusCode::kValueError,
               "y_scale: expected 1 or 5 values (one per row of y), got 3");
}

TEST_F(EpilogueCase, ScaleDtypeStrideDeviceAlignment) {
  e().x_scale = host_vector(i_m, DType::kInt32);
  expect_error(h.problem, StatusCode::kTypeError, "x_scale: expected float32, got int32");
  e().x_scale = host_vector(f_m, DType::kFloat32);
  e().x_scale.stride = 2;
  expect_error(h.problem, StatusCode::kValueError,
               "x_scale: expected contiguous values, got stride 2");
  e().x_scale = host_vector(f_1, DType::kFloat32);
  e().x_scale.stride = 7;  // one value: its stride is never used
  expect_ok();
  e().y_scale = host_vector(f_n, DType::kFloat32);
  e().y_scale.device = Device::cuda(0);
  expect_error(h.problem, StatusCode::kValueError, "y_scale is on cuda:0 but x is on cpu");
  e().y_scale = host_vector(f_n, DType::kFloat32);
  e().y_scale.data = reinterpret_cast<const char*>(f_n.data()) + 2;
  expect_error(h.problem, StatusCode::kValueError, "y_scale: data pointer is not aligned");
}

TEST_F(EpilogueCase, Bias) {
  e().bias = host_vector(f_n, DType::kFloat32);
  expect_ok();
  e().bias = host_vector(f_1, DType::kFloat32);
  expect_error(h.problem, StatusCode::kValueError,
               "bias: expected 5 values (one per row of y), got 1");
  e().bias = host_vector(h_n, DType::kBFloat16);  // out is bfloat16
  expect_ok();
  e().bias = host_vector(h_n, DType::kFloat16);
  expect_error(h.problem, StatusCode::kTypeError,
               "bias: expected float32 or the output dtype bfloat16, got float16");
  h.problem.out.dtype = DType::kFloat16;
  expect_ok();
  e().bias = host_vector(i_n, DType::kInt32);
  expect_error(h.problem, StatusCode::kTypeError, "bias: expected float32 or the output dtype");
}

TEST_F(EpilogueCase, ZeroPointNeedsRowSums) {
  for (auto* zp : {&i_1, &i_m}) {
    e().x_zero_point = host_vector(*zp, DType::kInt32);
    e().y_sums = host_vector(i_n, DType::kInt32);
    expect_ok();
  }
  e().y_sums = {};
  expect_error(h.problem, StatusCode::kValueError, "y_sums: required with x_zero_point");
  e().x_zero_point = {};
  e().y_sums = host_vector(i_n, DType::kInt32);
  expect_error(h.problem, StatusCode::kValueError, "y_sums: given without x_zero_point");
  e().x_zero_point = host_vector(i_n, DType::kInt32);
  expect_error(h.problem, StatusCode::kValueError, "x_zero_point: expected 1 or 3 values");
  e().x_zero_point = host_vector(f_m, DType::kFloat32);
  expect_error(h.problem, StatusCode::kTypeError, "x_zero_point: expected int32, got float32");
  e().x_zero_point = host_vector(i_m, DType::kInt32);
  e().y_sums = host_vector(i_1, DType::kInt32);
  expect_error(h.problem, StatusCode::kValueError,
               "y_sums: expected 5 values (the row sums of y), got 1");
}

TEST_F(EpilogueCase, AlphaExcludesXScale) {
  e().alpha = 2.0;
  e().y_scale = host_vector(f_n, DType::kFloat32);
  expect_ok();
  e().x_scale = host_vector(f_m, DType::kFloat32);
  expect_error(h.problem, StatusCode::kValueError, "alpha=2 and x_scale cannot both be given");
}

TEST_F(EpilogueCase, Int32OutIsTheExactAccumulator) {
  h.problem.out.dtype = DType::kInt32;
  e().x_zero_point = host_vector(i_m, DType::kInt32);
  e().y_sums = host_vector(i_n, DType::kInt32);
  expect_ok();
  e().alpha = 0.5;
  expect_error(h.problem, StatusCode::kValueError, "alpha: int32 output is the exact accumulator");
  e().alpha = 1.0;
  e().x_scale = host_vector(f_m, DType::kFloat32);
  expect_error(h.problem, StatusCode::kValueError, "x_scale: int32 output");
  e().x_scale = {};
  e().y_scale = host_vector(f_1, DType::kFloat32);
  expect_error(h.problem, StatusCode::kValueError, "y_scale: int32 output");
  e().y_scale = {};
  e().bias = host_vector(f_n, DType::kFloat32);
  expect_error(h.problem, StatusCode::kValueError, "bias: int32 output");
}

TEST_F(EpilogueCase, OutMustNotOverlapAVector) {
  h.problem.out.dtype = DType::kFloat32;
  e().bias.data = h.out.data();
  e().bias.dtype = DType::kFloat32;
  e().bias.size = 5;
  expect_error(h.problem, StatusCode::kValueError, "out overlaps bias");
  e().bias = {};
  e().x_scale = {h.out.data() + 2 * 14, DType::kFloat32, Device::host(), 1, 1};  // last element
  expect_error(h.problem, StatusCode::kValueError, "out overlaps x_scale");
}

}  // namespace
}  // namespace gemm_int8
