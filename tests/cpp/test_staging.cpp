// plan_staging: which operands each kind of row reads in place. Host logic
// (no GPU): the CUDA runner follows this plan.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "gemm_int8/staging.h"
#include "test_helpers.h"

namespace gemm_int8 {
namespace {

// The first row of `family` whose properties match, from the real table.
const KernelConfig& row(KernelFamily family, int align_k = 16, bool any_out_pitch = false) {
  for (const KernelConfig& c : all_configs())
    if (c.family == family && c.align_k == align_k &&
        (family != KernelFamily::kSm90 || c.any_out_pitch == any_out_pitch))
      return c;
  throw std::runtime_error("no such row");
}

TEST(Staging, AlignedProblemStagesNothing) {
  testing::HostProblem h(64, 256, 128);
  for (KernelFamily f : {KernelFamily::kSm80, KernelFamily::kSm90, KernelFamily::kSkinny}) {
    const Staging s = plan_staging(h.problem, row(f));
    EXPECT_FALSE(s.x || s.y || s.out) << family_name(f);
    EXPECT_EQ(s.k_kernel, 128);
    EXPECT_EQ(s.n_kernel, 256);
  }
}

TEST(Staging, UnalignedKStagesBothOperandsZeroPadded) {
  testing::HostProblem h(8, 64, 100);  // rows of 100 bytes: 4-byte aligned
  for (KernelFamily f : {KernelFamily::kSm80, KernelFamily::kSm90, KernelFamily::kSkinny}) {
    const Staging s = plan_staging(h.problem, row(f));
    EXPECT_TRUE(s.x && s.y) << family_name(f);
    EXPECT_EQ(s.k_padded, 112);
    // TMA rows see the real K in the staged copies; the others their padding.
    EXPECT_EQ(s.k_kernel, f == KernelFamily::kSm90 ? 100 : 112) << family_name(f);
  }
}

TEST(Staging, TmaRowsReadARaggedKInPlaceFromAlignedPitches) {
  testing::HostProblem h(8, 64, 128);
  h.problem.x.cols = h.problem.y.cols = 100;  // K = 100 in rows 128 bytes apart
  const Staging tma = plan_staging(h.problem, row(KernelFamily::kSm90));
  EXPECT_FALSE(tma.x || tma.y);
  EXPECT_EQ(tma.k_kernel, 100);
  EXPECT_EQ(operand_ld(h.problem.y, row(KernelFamily::kSm90)), 128);
  for (KernelFamily f : {KernelFamily::kSm80, KernelFamily::kSkinny}) {
    const Staging s = plan_staging(h.problem, row(f));  // whole 16-byte units only
    EXPECT_TRUE(s.x && s.y) << family_name(f);
    EXPECT_EQ(s.k_kernel, 112) << family_name(f);
  }
  h.problem.y.row_stride = 104;  // an 8-byte pitch: TMA cannot stride by it
  const Staging s = plan_staging(h.problem, row(KernelFamily::kSm90));
  EXPECT_TRUE(s.y && !s.x);
}

TEST(Staging, EightByteRowsReadKOf1000InPlace) {
  testing::HostProblem h(1000, 1000, 1000);
  const Staging s = plan_staging(h.problem, row(KernelFamily::kSm80, 8));
  EXPECT_FALSE(s.x || s.y);
  EXPECT_EQ(s.k_kernel, 1000);  // no padded K: nothing staged to pad
  EXPECT_EQ(s.n_kernel, 1000);  // 1000 % 8 == 0
}

TEST(Staging, Sm80PadsARaggedNAndStagesOut) {
  testing::HostProblem h(64, 100, 128);
  const Staging s = plan_staging(h.problem, row(KernelFamily::kSm80));
  EXPECT_EQ(s.n_kernel, 104);
  EXPECT_TRUE(s.y);    // zero rows appended
  EXPECT_TRUE(s.out);  // the padding columns must not land in the caller's next row
  EXPECT_EQ(s.ld_out, 104);
  const Staging sm90 = plan_staging(h.problem, row(KernelFamily::kSm90));
  EXPECT_EQ(sm90.n_kernel, 100);  // TMA clips a ragged N itself
  EXPECT_FALSE(sm90.y);
}

TEST(Staging, OutPitchDecidesPerStoreKind) {
  testing::HostProblem h(4, 64, 128);
  h.problem.out.row_stride = 66;  // 132-byte bfloat16 rows: contiguous, not 16-byte
  EXPECT_TRUE(plan_staging(h.problem, row(KernelFamily::kSm90, 16, false)).out);  // TMA store
  EXPECT_FALSE(plan_staging(h.problem, row(KernelFamily::kSm90, 16, true)).out);  // row store
  EXPECT_FALSE(plan_staging(h.problem, row(KernelFamily::kSkinny)).out);          // any strides
  EXPECT_EQ(out_ld(h.problem.out, row(KernelFamily::kSm90, 16, true)), 66);
  EXPECT_EQ(out_ld(h.problem.out, row(KernelFamily::kSm90, 16, false)), -1);
}

TEST(Staging, DenseLeadingDimension) {
  testing::HostProblem h(4, 64, 128);
  EXPECT_EQ(dense_ld(h.problem.x, 16), 128);
  h.problem.x.row_stride = 136;  // 8-byte pitch
  EXPECT_EQ(dense_ld(h.problem.x, 16), -1);
  EXPECT_EQ(dense_ld(h.problem.x, 8), 136);
  h.problem.x.col_stride = 2;  // rows not contiguous
  EXPECT_EQ(dense_ld(h.problem.x, 1), -1);
}

}  // namespace
}  // namespace gemm_int8
