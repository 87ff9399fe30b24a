// A CUDA plan must not run a problem it was not made for: its key records
// everything the planner's staging and launch decisions read.
#include <gtest/gtest.h>

#include "gemm_int8/plan_key.h"
#include "test_helpers.h"

namespace gemm_int8 {
namespace {

using testing::HostProblem;

TEST(PlanKey, EqualWhenOnlyThePointersMove) {
  HostProblem a(32, 48, 64), b(32, 48, 64);
  EXPECT_EQ(plan_key(a.problem), plan_key(b.problem));
  EXPECT_EQ(plan_key_mismatch(plan_key(a.problem), plan_key(b.problem)), "");
}

// The case a shape-only check missed: x one byte off its 16-byte alignment
// would reach a kernel that reads 16-byte rows in place.
TEST(PlanKey, RecordsTheAlignmentOfX) {
  std::vector<int8_t> storage(32 * 64 + 16);
  HostProblem h(32, 48, 64);
  auto* base =
      reinterpret_cast<int8_t*>((reinterpret_cast<uintptr_t>(storage.data()) + 15) / 16 * 16);
  h.problem.x.data = base;
  const PlanKey aligned = plan_key(h.problem);
  h.problem.x.data = base + 1;
  const PlanKey shifted = plan_key(h.problem);
  EXPECT_NE(aligned, shifted);
  EXPECT_EQ(plan_key_mismatch(aligned, shifted), "x row alignment (bytes): planned 16, given 1");
}

TEST(PlanKey, RecordsStridesDtypeAndEpilogue) {
  HostProblem h(8, 16, 32);
  const PlanKey base = plan_key(h.problem);

  GemmProblem transposed_out = h.problem;
  std::swap(transposed_out.out.row_stride, transposed_out.out.col_stride);
  EXPECT_NE(base, plan_key(transposed_out));

  GemmProblem float_out = h.problem;
  float_out.out.dtype = DType::kFloat32;
  EXPECT_EQ(plan_key_mismatch(base, plan_key(float_out)),
            "out dtype: planned bfloat16, given float32");

  std::vector<uint16_t> bias(16);
  GemmProblem with_bias = h.problem;
  with_bias.epilogue.bias = testing::host_vector(bias, DType::kBFloat16);
  EXPECT_NE(plan_key_mismatch(base, plan_key(with_bias)).find("epilogue operands"),
            std::string::npos);

  std::vector<float> one(1), per_row(8);
  GemmProblem tensor_scale = h.problem, row_scale = h.problem;
  tensor_scale.epilogue.x_scale = testing::host_vector(one, DType::kFloat32);
  row_scale.epilogue.x_scale = testing::host_vector(per_row, DType::kFloat32);
  EXPECT_NE(plan_key(tensor_scale), plan_key(row_scale));
}

TEST(PlanKey, RecordsTheShape) {
  HostProblem a(8, 16, 32), b(8, 16, 48);
  EXPECT_EQ(plan_key_mismatch(plan_key(a.problem), plan_key(b.problem)), "K: planned 32, given 48");
}

}  // namespace
}  // namespace gemm_int8
