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
  h.problem.out.dtype = DType::kFloat16;
  expect_error(h.problem, StatusCode::kTypeError, "out: expected bfloat16, got float16");
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
