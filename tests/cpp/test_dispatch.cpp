#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "gemm_int8/config.h"
#include "test_helpers.h"

namespace gemm_int8 {
namespace {

using testing::HostProblem;

DeviceInfo device(int major, int minor) {
  DeviceInfo d;
  d.cc_major = major, d.cc_minor = minor, d.sm_count = 132;
  return d;
}

KernelConfig choose(int64_t m, int64_t n, int64_t k, const DeviceInfo& d,
                    const std::string& force = "") {
  HostProblem h(m, n, k);
  KernelOverride o;
  EXPECT_TRUE(parse_kernel_override(force, &o).ok());
  KernelConfig c;
  const Status st = choose_config(h.problem, d, o, &c);
  EXPECT_TRUE(st.ok()) << st.message();
  return c;
}

TEST(Dispatch, TableNamesAreUniqueAndPrefixedByFamily) {
  std::set<std::string> names;
  for (const KernelConfig& c : all_configs()) {
    EXPECT_TRUE(names.insert(c.name).second) << c.name;
    EXPECT_EQ(std::string(c.name).rfind(family_name(c.family), 0), 0u) << c.name;
    EXPECT_GT(c.tile.m * c.tile.n * c.tile.k, 0);
  }
  EXPECT_GE(names.size(), 2u);
}

TEST(Dispatch, FamilyByComputeCapability) {
  EXPECT_EQ(choose(512, 4096, 4096, device(9, 0)).family, KernelFamily::kSm90);
  EXPECT_EQ(choose(512, 4096, 4096, device(8, 0)).family, KernelFamily::kSm80);
  EXPECT_EQ(choose(512, 4096, 4096, device(8, 9)).family, KernelFamily::kSm80);
  // sm_90a machine code does not run on later GPUs; they get the sm80 family.
  EXPECT_EQ(choose(512, 4096, 4096, device(10, 0)).family, KernelFamily::kSm80);
  EXPECT_EQ(choose(512, 4096, 4096, device(12, 0)).family, KernelFamily::kSm80);
  EXPECT_EQ(choose(512, 4096, 4096, device(7, 5)).family, KernelFamily::kSimt);
}

TEST(Dispatch, FallsBackWhenAFamilyWasNotBuilt) {
  DeviceInfo d = device(9, 0);
  d.sm90_kernels_built = false;
  EXPECT_EQ(choose(512, 4096, 4096, d).family, KernelFamily::kSm80);
  d.sm80_kernels_built = false;
  EXPECT_EQ(choose(512, 4096, 4096, d).family, KernelFamily::kSimt);
}

TEST(Dispatch, Sm80SmallMUsesTheSmallTile) {
  const KernelConfig small = choose(128, 4096, 4096, device(8, 0));
  const KernelConfig large = choose(129, 4096, 4096, device(8, 0));
  EXPECT_LT(small.tile.m, large.tile.m);
  EXPECT_EQ(small.family, KernelFamily::kSm80);
}

TEST(Dispatch, DecodeUsesTheSkinnyKernelUpToEightThousandWide) {
  for (const DeviceInfo& d : {device(8, 0), device(8, 9), device(9, 0), device(12, 0)})
    for (int m : {2, 8, 16}) EXPECT_EQ(choose(m, 4096, 4096, d).family, KernelFamily::kSkinny);
  EXPECT_EQ(choose(17, 4096, 4096, device(8, 0)).family, KernelFamily::kSm80);
  EXPECT_EQ(choose(2, 14336, 4096, device(8, 0)).family, KernelFamily::kSm80);
  EXPECT_EQ(choose(2, 14336, 4096, device(9, 0)).family, KernelFamily::kSm90);
  EXPECT_EQ(choose(16, 4096, 14336, device(9, 0)).family, KernelFamily::kSm90);
  // Up to eight rows, K up to 16384 too, on the one-column-tile row.
  EXPECT_EQ(std::string(choose(8, 4096, 14336, device(9, 0)).name), "skinny_m8_r1_w8_u8");
  EXPECT_EQ(choose(8, 4096, 16400, device(9, 0)).family, KernelFamily::kSm90);
  EXPECT_EQ(std::string(choose(2, 1024, 4096, device(9, 0)).name), "skinny_m8_r1_w8_u8");
  EXPECT_EQ(std::string(choose(8, 4096, 4096, device(9, 0)).name), "skinny_m8_r1_w8_u8");
  EXPECT_EQ(std::string(choose(9, 4096, 4096, device(9, 0)).name), "skinny_m16_r1_w8_u4");
  EXPECT_EQ(std::string(choose(16, 1024, 4096, device(9, 0)).name), "skinny_m8_r1_w8_u8");
  // Rows skinny would have to stage (K = 1000) keep the sm80 8-byte rows.
  EXPECT_EQ(choose(1, 1000, 1000, device(9, 0)).family, KernelFamily::kSm80);
  EXPECT_EQ(choose(1, 4096, 4096, device(7, 5)).family, KernelFamily::kSimt);
  // Forcing a tensor-core family keeps its own rows for small M.
  EXPECT_EQ(choose(1, 4096, 4096, device(8, 0), "sm80").family, KernelFamily::kSm80);
}

TEST(Dispatch, OneRowUsesTheGemvKernel) {
  for (const DeviceInfo& d : {device(8, 0), device(9, 0), device(12, 0)})
    for (int n : {1024, 4096, 14336, 28672})
      EXPECT_EQ(std::string(choose(1, n, 4096, d).name), "gemv_m1_r2_w4_g8");
  EXPECT_EQ(choose(1, 4096, 14336, device(9, 0)).family, KernelFamily::kGemv);
  EXPECT_EQ(choose(2, 4096, 4096, device(9, 0)).family, KernelFamily::kSkinny);
  EXPECT_EQ(choose(2, 14336, 4096, device(9, 0)).family, KernelFamily::kSm90);
  // Beyond the measured K, and rows it would have to stage, go elsewhere.
  EXPECT_EQ(choose(1, 4096, 16400, device(9, 0)).family, KernelFamily::kSm90);
  EXPECT_EQ(choose(1, 1000, 1000, device(9, 0)).family, KernelFamily::kSm80);
  EXPECT_EQ(choose(1, 4096, 4096, device(7, 5)).family, KernelFamily::kSimt);
  // A forced gemv row takes any M (more CTAs along M).
  EXPECT_EQ(choose(64, 4096, 4096, device(9, 0), "gemv").family, KernelFamily::kGemv);
}

TEST(Dispatch, Sm90RowsByM) {
  auto name = [](int64_t m, int64_t n, int64_t k = 4096) {
    return std::string(choose(m, n, k, device(9, 0)).name);
  };
  EXPECT_EQ(name(2, 14336), "sm90_swap_t64x16x256_c1x1_ping");
  EXPECT_EQ(name(16, 14336), "sm90_swap_t64x16x256_c1x1_ping");
  // 17..32 rows: 64x16 pingpong while it fits one round, else 128x32.
  EXPECT_EQ(name(17, 4096), "sm90_swap_t64x16x256_c1x1_ping");
  EXPECT_EQ(name(32, 4096, 14336), "sm90_swap_t64x16x256_c1x1_ping");
  EXPECT_EQ(name(17, 14336), "sm90_swap_t128x32x128_c1x1_coop");  // 128x16: 2 rounds
  EXPECT_EQ(name(33, 4096), "sm90_swap_t128x16x256_c1x1_coop");
  EXPECT_EQ(name(48, 4096), "sm90_swap_t64x32x256_c1x1_ping");
  EXPECT_EQ(name(64, 4096), "sm90_swap_t64x32x256_c1x1_ping");
  EXPECT_EQ(name(64, 4096, 14336), "sm90_swap_t64x32x256_c1x1_ping");
  EXPECT_EQ(name(40, 4096), "sm90_swap_t128x16x256_c1x1_coop");  // 8 rows in the last 32
  EXPECT_EQ(name(64, 6144), "sm90_swap_t128x32x128_c1x1_coop");
  EXPECT_EQ(name(128, 1024), "sm90_swap_t64x16x256_c1x1_ping");
  EXPECT_EQ(name(160, 6144), "sm90_swap_t128x96x128_c1x1_coop");
  EXPECT_EQ(name(256, 6144), "sm90_t128x128x128_c1x1_coop");
  EXPECT_EQ(name(640, 4096), "sm90_swap_t128x192x128_c1x1_coop");
  EXPECT_EQ(name(768, 4096, 14336), "sm90_swap_t128x192x128_c1x1_coop");
  EXPECT_EQ(name(640, 6144), "sm90_t64x256x128_c1x1_ping");
  EXPECT_EQ(name(896, 4096), "sm90_t128x256x128_c2x1_coop");
  EXPECT_EQ(name(640, 1024), "sm90_t64x128x128_c1x1_ping");
  EXPECT_EQ(name(64, 14336), "sm90_swap_t128x64x128_c1x1_coop");  // 128x16 needs 4 rounds
  EXPECT_EQ(name(65, 4096), "sm90_swap_t128x32x128_c1x1_coop");
  EXPECT_EQ(name(103, 4096), "sm90_swap_t128x32x128_c1x1_coop");
  EXPECT_EQ(name(104, 4096), "sm90_swap_t64x64x256_c1x1_ping");
  EXPECT_EQ(name(128, 4096, 14336), "sm90_swap_t64x64x256_c1x1_ping");
  // Swapped 128x32 tiles would need several rounds at N = 14336.
  EXPECT_EQ(name(96, 14336), "sm90_swap_t128x64x128_c1x1_coop");
  EXPECT_EQ(name(129, 4096), "sm90_swap_t128x64x128_c1x1_coop");
  EXPECT_EQ(name(256, 4096, 14336), "sm90_swap_t128x64x128_c1x1_coop");
  EXPECT_EQ(name(129, 14336), "sm90_t128x256x128_c2x1_coop");
  EXPECT_EQ(name(256, 14336), "sm90_t128x256x128_c2x1_coop");
  EXPECT_EQ(name(257, 4096), "sm90_swap_t128x96x128_c1x1_coop");
  EXPECT_EQ(name(288, 14336), "sm90_swap_t128x96x128_c1x1_coop");
  EXPECT_EQ(name(289, 4096), "sm90_t64x256x128_c1x1_ping");  // 1 row in the last 96
  EXPECT_EQ(name(320, 4096), "sm90_swap_t128x96x128_c1x1_coop");
  EXPECT_EQ(name(320, 14336), "sm90_t64x256x128_c1x1_ping");
  EXPECT_EQ(name(385, 4096), "sm90_t64x256x128_c1x1_ping");  // 1 row in the last 128
  EXPECT_EQ(name(448, 4096), "sm90_t128x128x128_c1x1_coop");
  EXPECT_EQ(name(320, 1024), "sm90_swap_t128x32x128_c1x1_coop");
  EXPECT_EQ(name(512, 1024), "sm90_swap_t128x32x128_c1x1_coop");
  EXPECT_EQ(name(512, 4096), "sm90_t128x128x128_c1x1_coop");
  EXPECT_EQ(name(512, 14336), "sm90_t64x256x128_c1x1_ping");
  // 1000 x 1000: 16 x 4 = 64 tiles of 64x256 would leave half the SMs idle.
  EXPECT_EQ(name(1000, 1000), "sm90_t64x128x128_c1x1_ping");
  EXPECT_EQ(name(1024, 14336), "sm90_t64x256x128_c1x1_ping");
  EXPECT_EQ(name(1024, 4096), "sm90_t128x256x128_c2x1_coop");
  // 2048 x 1024 (a prefill's k and v): 16 x 4 = 64 tiles of 128x256.
  EXPECT_EQ(name(2048, 1024), "sm90_t128x128x128_c1x1_coop");
  EXPECT_EQ(name(4096, 1024), "sm90_t128x256x128_c2x1_coop");
  EXPECT_EQ(name(8192, 8192), "sm90_t128x256x128_c2x1_coop");
}

TEST(Dispatch, RaggedNPicksTheTileWithFewerRounds) {
  // 128x256 tiles in clusters of 2 need 5 rounds at 4095x4097, 256x128 need
  // 4; N = 4097 also leaves out with a pitch only row stores can write.
  const KernelConfig ragged = choose(4095, 4097, 4096, device(9, 0));
  EXPECT_EQ(std::string(ragged.name), "sm90_t256x128x128_c2x1_coop_rows");
  EXPECT_TRUE(ragged.any_out_pitch);
  EXPECT_EQ(std::string(choose(2047, 14337, 4095, device(9, 0)).name),
            "sm90_t256x128x128_c2x1_coop_rows");
  // One round of tiles: the padded copy is cheaper than the row stores.
  EXPECT_FALSE(choose(1000, 1001, 1024, device(9, 0)).any_out_pitch);
  EXPECT_EQ(std::string(choose(4096, 4096, 4096, device(9, 0)).name),
            "sm90_t128x256x128_c2x1_coop");
}

TEST(Dispatch, SmallProblemsWithEightByteRowsReadThemInPlace) {
  for (const DeviceInfo& d : {device(9, 0), device(8, 0)}) {
    const KernelConfig c = choose(1000, 1000, 1000, d);
    EXPECT_EQ(c.family, KernelFamily::kSm80) << c.name;
    EXPECT_EQ(c.align_k, 8) << c.name;
    EXPECT_EQ(std::string(c.name), "sm80_a8_t64x128x64_w32x64x64_s4");
  }
  EXPECT_EQ(std::string(choose(512, 1000, 1000, device(9, 0)).name),
            "sm80_a8_t64x64x64_w32x32x64_s4");
  // Aligned K, odd K (staged either way) and larger problems keep the TMA rows.
  EXPECT_EQ(choose(1000, 1000, 1024, device(9, 0)).family, KernelFamily::kSm90);
  EXPECT_EQ(choose(1000, 1000, 1001, device(9, 0)).family, KernelFamily::kSm90);
  EXPECT_EQ(choose(2000, 2000, 1000, device(9, 0)).family, KernelFamily::kSm90);
}

TEST(Dispatch, EveryMFindsARow) {
  for (int m = 1; m <= 4096; m += 37) EXPECT_NE(choose(m, 4096, 4096, device(9, 0)).name, nullptr);
}

TEST(Dispatch, ForcedFamilyAndRow) {
  EXPECT_EQ(choose(512, 512, 512, device(9, 0), "simt").family, KernelFamily::kSimt);
  const KernelConfig& last = all_configs().back();
  const KernelConfig c = choose(4096, 4096, 4096, device(9, 0), last.name);
  EXPECT_EQ(std::string(c.name), last.name);
}

TEST(Dispatch, ForcingAFamilyTheGpuCannotRunIsNotSupported) {
  HostProblem h(8, 8, 8);
  KernelOverride o;
  KernelConfig c;
  ASSERT_TRUE(parse_kernel_override("sm80", &o).ok());
  Status st = choose_config(h.problem, device(7, 5), o, &c);
  EXPECT_EQ(st.code(), StatusCode::kNotSupported);
  EXPECT_NE(st.message().find("compute capability 8.0"), std::string::npos) << st.message();
  ASSERT_TRUE(parse_kernel_override("sm90", &o).ok());
  st = choose_config(h.problem, device(8, 0), o, &c);
  EXPECT_EQ(st.code(), StatusCode::kNotSupported);
  EXPECT_NE(st.message().find("only on compute capability 9.0"), std::string::npos) << st.message();
}

TEST(Dispatch, UnknownOverrideListsTheAcceptedNames) {
  KernelOverride o;
  const Status st = parse_kernel_override("fastest", &o);
  EXPECT_EQ(st.code(), StatusCode::kValueError);
  EXPECT_NE(st.message().find("accepted: auto, simt, sm80, sm90"), std::string::npos)
      << st.message();
  EXPECT_TRUE(parse_kernel_override("auto", &o).ok());
  EXPECT_FALSE(o.forced);
}

TEST(Dispatch, ConfigsPrint) {
  std::ostringstream os;
  os << all_configs().front();
  EXPECT_NE(os.str().find("family"), std::string::npos);
}

}  // namespace
}  // namespace gemm_int8
