#include <algorithm>
#include <exception>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "core/gemv_rows.h"
#include "core/skinny_rows.h"
#include "core/sm80_rows.h"
#include "core/sm90_rows.h"
#include "gemm_int8/config.h"

namespace gemm_int8 {
namespace {

// The sm90 table's store column, as facts the planner needs.
constexpr bool TmaStore_writes_any_pitch = false;
constexpr bool RowStore_writes_any_pitch = true;

std::vector<KernelConfig> build_table() {
  std::vector<KernelConfig> table;
  // The SIMT family has one generic kernel: 64x64 CTA tile, K step 32, dp4a.
  table.push_back({KernelFamily::kSimt, 0, "simt_t64x64x32", {64, 64, 32}, 1, 2 * 64 * 32});
#define GEMM_INT8_SM80_CONFIG(name, tm, tn, tk, wm, wn, wk, stages, align_k) \
  table.push_back({KernelFamily::kSm80,                                      \
                   sm80::name,                                               \
                   "sm80_" #name,                                            \
                   {tm, tn, tk},                                             \
                   stages,                                                   \
                   (stages) * ((tm) + (tn)) * (tk),                          \
                   align_k});
#include "kernels/sm80/tile_configs.def"
#undef GEMM_INT8_SM80_CONFIG
  // sm90 stage counts are CUTLASS's choice (StageCountAutoCarveout).
#define GEMM_INT8_SM90_CONFIG(name, tm, tn, tk, cm, cn, schedule, swap, store) \
  table.push_back({KernelFamily::kSm90,                                        \
                   sm90::name,                                                 \
                   "sm90_" #name,                                              \
                   {tm, tn, tk},                                               \
                   0,                                                          \
                   0,                                                          \
                   16,                                                         \
                   cm,                                                         \
                   swap,                                                       \
                   store##_writes_any_pitch,                                   \
                   true});
#include "kernels/sm90/tile_configs.def"
#undef GEMM_INT8_SM90_CONFIG
#define GEMM_INT8_SKINNY_CONFIG(name, row_tiles, col_tiles, warps, unroll) \
  table.push_back({KernelFamily::kSkinny,                                  \
                   skinny::name,                                           \
                   "skinny_" #name,                                        \
                   {8 * (col_tiles), 16 * (row_tiles), 64 * (unroll)},     \
                   1,                                                      \
                   (warps) * (row_tiles) * (col_tiles)*4 * 32 * 4});
#include "kernels/skinny/tile_configs.def"
#undef GEMM_INT8_SKINNY_CONFIG
#define GEMM_INT8_GEMV_CONFIG(name, max_m, rows, warps, groups) \
  table.push_back({KernelFamily::kGemv,                         \
                   gemv::name,                                  \
                   "gemv_" #name,                               \
                   {max_m, (groups) * (rows), 16 * 32},         \
                   1,                                           \
                   (groups) * (warps) * (rows) * (max_m)*4});
#include "kernels/gemv/tile_configs.def"
#undef GEMM_INT8_GEMV_CONFIG
  return table;
}

const KernelConfig& row_of(KernelFamily family, int row) {
  const auto& all = all_configs();
  return *std::find_if(all.begin(), all.end(),
                       [&](const KernelConfig& c) { return c.family == family && c.row == row; });
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Whether tile_m x tile_n tiles of the problem would leave over half the SMs idle.
bool under_half_the_sms(const GemmProblem& p, int tile_m, int tile_n, const DeviceInfo& device) {
  return 2 * ceil_div(p.m(), tile_m) * ceil_div(p.n(), tile_n) < device.sm_count;
}

// x and y rows that are 8-byte but not 16-byte aligned (K = 1000) in a
// small problem: the sm80 rows that read them in place with 8-byte cp.async
// beat staging them for a TMA kernel, whose two copies cost more than the
// GEMM (docs/performance.md, "Round 4": 1000^3 12.0 us vs 17.7 staged and
// 13.9 for an sm90 cp.async row; 2000x2000x1000 staged is faster).
bool small_with_eight_byte_rows(const GemmProblem& p) {
  const int align = std::min(row_alignment_bytes(p.x), row_alignment_bytes(p.y));
  const double macs = static_cast<double>(p.m()) * static_cast<double>(p.n()) * p.k();
  return align >= 8 && align < 16 && macs <= 2147483648.0;
}

// The sm80 boundaries. Each cites the measurement that chose it in
// docs/performance.md.
int sm80_row(const GemmProblem& p, const DeviceInfo& device) {
  // 8-byte rows: 64x64 tiles while 64x128 ones would fill under half the
  // SMs (512x1000x1000 9.9 us vs 11.9; 1000^3 13.8 vs 12.0), "Round 4".
  if (small_with_eight_byte_rows(p))
    return under_half_the_sms(p, 64, 128, device) ? sm80::a8_t64x64x64_w32x32x64_s4
                                                  : sm80::a8_t64x128x64_w32x64x64_s4;
  // M <= 128: the 64x128 tile doubles the CTA count of small-M problems so
  // more of the SMs have work (docs/performance.md, "Round 0", 2026-11-25,
  // H100 SXM, M in {1..128} x 4096 x 4096).
  if (p.m() <= 128) return sm80::t64x128x64_w32x64x64_s4;
  return sm80::t128x256x64_w64x64x64_s3;
}

// Rounds of tiles the persistent grid of a row needs for a problem: every
// SM (or cluster) takes one tile per round, and the kernel's time follows
// its busiest CTA, so a round more is a cliff.
int64_t rounds(const GemmProblem& p, int row, const DeviceInfo& device) {
  const KernelConfig& c = row_of(KernelFamily::kSm90, row);
  const int64_t rows = c.swap_ab ? p.n() : p.m(), cols = c.swap_ab ? p.m() : p.n();
  const int64_t units = ceil_div(ceil_div(rows, c.tile.m), c.cluster_m) * ceil_div(cols, c.tile.n);
  return ceil_div(units, std::max(1, device.sm_count / c.cluster_m));
}

// Whether a row's persistent grid takes the whole problem in one round: most
// sm90 boundaries past 16 rows ask this, since a second round of small tiles
// costs nearly as much as the first.
bool fits_one_round(const GemmProblem& p, int row, const DeviceInfo& device) {
  return rounds(p, row, device) <= 1;
}

// Rows in the last `tile` rows of M: rows whose last tile is mostly empty
// run 1-5 us slower (docs/performance.md, "Round 4").
int64_t last_tile_rows(int64_t m, int64_t tile) { return m % tile == 0 ? tile : m % tile; }

// The sm90 boundaries. Each cites the measurement that chose it in
// docs/performance.md: "Round 3" (2026-11-25) or "Round 4" (2026-11-26),
// H100 SXM, tune sweeps over M x {4096x4096, 14336x4096, 4096x14336}.
int sm90_row(const GemmProblem& p, const DeviceInfo& device) {
  using namespace sm90;
  const int64_t m = p.m(), n = p.n();
  // M <= 16: swapped 64x16 pingpong tiles give twice the CTAs of 128x16
  // (1x4096x14336 27.1 us vs 28.3; 16x4096x4096 12.5 vs 12.7).
  if (m <= 16) return swap_t64x16x256_c1x1_ping;
  // Up to 128 rows while the 64x16 pingpong tiles fit one round: the same
  // row (H200, 2026-12-01, graph timing, docs/performance.md "Issue 12 —
  // ragged K in place, the time-vs-M cliffs" and "Issue 12 — medium M":
  // 17..32 x 4096 x 4096 7.5-7.6 us vs 8.2 for 128x16; 33..128 x 1024 x 4096
  // 5.8-5.9 vs 6.9-7.6). N = 14336 keeps 128x16 (17.6 vs 18.3).
  if (m <= 128 && fits_one_round(p, swap_t64x16x256_c1x1_ping, device))
    return swap_t64x16x256_c1x1_ping;
  if (m <= 64) {
    // 64x32 pingpong in one round once 16 rows fill its last tile (48, 64 x
    // 4096 x 4096: 7.7 us vs 8.5 for 128x16; x 4096 x 14336: 17.8-18.0 vs
    // 19.9; 33 rows pay for the sparse tile: 9.3 vs 8.4).
    if (fits_one_round(p, swap_t64x32x256_c1x1_ping, device) && last_tile_rows(m, 32) >= 16)
      return swap_t64x32x256_c1x1_ping;
    // 128x32 where 128x16 needs a second round and 128x32 does not (33..64 x
    // 6144 x 4096: 9.9-10.7 us vs 13.0-13.2; 17..32 x 14336 x 4096: 17.3-17.5
    // vs 17.4-18.4).
    const int64_t rounds_128x16 = rounds(p, swap_t128x16x256_c1x1_coop, device);
    if (rounds_128x16 > 1 && fits_one_round(p, swap_t128x32x128_c1x1_coop, device))
      return swap_t128x32x128_c1x1_coop;
    // Swapped 128x16 (8.4-8.5 us at 33..64 x 4096 x 4096), or 128x64 where
    // 128x16 tiles need more than two rounds (64 x 14336 x 4096: 27.5 us vs
    // 29.1).
    return rounds_128x16 > 2 ? swap_t128x64x128_c1x1_coop : swap_t128x16x256_c1x1_coop;
  }
  if (m <= 128) {
    // Swapped 128x32 tiles that need a second round (N = 14336): 128x64
    // (96..128 x 14336 x 4096: 27.0-27.2 us vs 28.2-28.8 for 128x128).
    if (!fits_one_round(p, swap_t128x32x128_c1x1_coop, device)) return swap_t128x64x128_c1x1_coop;
    // Swapped 64x64 pingpong once 40 or more rows fill its last tile (104..128
    // x 4096 x 4096: 11.9-12.5 us vs 12.5-12.7 for 128x32; it pays 1-4 us for
    // a sparse last tile: 65 rows 16.8 vs 13.1, 101 rows 13.7 vs 12.7).
    return last_tile_rows(m, 64) >= 40 ? swap_t64x64x256_c1x1_ping : swap_t128x32x128_c1x1_coop;
  }
  // Up to 512 rows on a narrow N (1024) while swapped 128x32 tiles fit one
  // round: the most CTAs (129..512 x 1024 x 4096: 7.6-8.5 us vs 8.7-10.7 for
  // 128x64, 128x96 or 64x128 pingpong), "Issue 12 — medium M".
  if (m <= 512 && fits_one_round(p, swap_t128x32x128_c1x1_coop, device))
    return swap_t128x32x128_c1x1_coop;
  if (m <= 256) {
    // Swapped 128x64 tiles, tile_k 128 (129..256 x 4096 x 4096: 10.0-10.9
    // us; 129..256 x 4096 x 14336: within 3 % of 64x128 pingpong).
    if (fits_one_round(p, swap_t128x64x128_c1x1_coop, device)) return swap_t128x64x128_c1x1_coop;
    // Where those need a second round, the first of swapped 128x96 or
    // 128x128 that fits one (129..192 x 6144 x 4096: 12.3-14.1 us, 256 x
    // 6144 x 4096: 14.2, all vs 23.5 for 128x256 clusters)...
    if (fits_one_round(p, swap_t128x96x128_c1x1_coop, device)) return swap_t128x96x128_c1x1_coop;
    if (fits_one_round(p, t128x128x128_c1x1_coop, device)) return t128x128x128_c1x1_coop;
    // ...else 128x256 clusters (129..256 x 14336 x 4096: 25.3-27.3 us vs
    // 31-54).
    return t128x256x128_c2x1_coop;
  }
  // 257..384: swapped 128x96 tiles (tile_k 128: 7 stages), 96 or 128 CTAs
  // (257 x 4096 x 4096 14.8 us vs 17.2 for 64x256; 288 x 14336 x 4096 34.4
  // vs 43.0). Not while the last 96 rows are sparse (289 rows: 20.1 vs 17.1),
  // nor past 288 rows on a wide N (320 x 14336 x 4096: over 55 us vs 41.7).
  const bool sparse_last_tile = last_tile_rows(m, 96) <= 16;
  if (m <= 288 || (m <= 384 && n < 8192 && !sparse_last_tile)) return swap_t128x96x128_c1x1_coop;
  // An out pitch TMA cannot store (N = 4097) on a problem of two or more
  // rounds: the 256x128 twin that stores rows in place, instead of a padded
  // copy and its unstage (4095 x 4097 x 4096 101.5 us vs 127.2; 2047 x 14337
  // x 4095 221.0 vs 264.6; it costs 4 % on an aligned 4096^3). Smaller
  // problems keep the padded copy (300 x 1001 x 4096 15.3 us vs 27.6).
  const int out_align = row_alignment_bytes(p.out);
  if (out_align > 0 && out_align < 16 && rounds(p, t256x128x128_c2x1_coop_rows, device) >= 2)
    return t256x128x128_c2x1_coop_rows;
  // Too few 64x256 tiles for half the SMs (1000 x 1000): 64x128 pingpong
  // (1000^3 18.1 us, tied with 128x128).
  if (under_half_the_sms(p, 64, 256, device)) return t64x128x128_c1x1_ping;
  // 320..512 with N < 8192 (past the 128x96 rows): 128x128 cooperative
  // (384x4096x14336 41.1 us vs 43.7 for 64x256 pingpong; 512x4096x4096 17.7
  // vs 17.8). Below 320, 64x256 (289 x 4096 x 4096 17.1 us vs 20.1 for 128x96).
  // While the last 128 rows are sparse, 64x256 (385 x 4096 x 4096 14.8 us
  // vs 16.3; 385 x 4096 x 14336 39.5 vs 57.9; 448 keeps 128x128: 13.8 vs
  // 14.8), "Issue 12 — medium M".
  if (m >= 320 && m <= 512 && n < 8192)
    return last_tile_rows(m, 128) <= 32 ? t64x256x128_c1x1_ping : t128x128x128_c1x1_coop;
  // Past 512 rows, too few 128x256 tiles for half the SMs (the k and v
  // projections of a prefill, 2048 x 1024 x 4096: 64 tiles): 128x128
  // cooperative (H200: 14.0 us vs 23.8 for 128x256 clusters; 64x256
  // pingpong 14.3).
  if (m > 512 && under_half_the_sms(p, 128, 256, device)) return t128x128x128_c1x1_coop;
  if (m > 512 && m <= 1024 && n < 8192) {
    // 513..768 rows in one round of swapped 128x192 tiles (513..768 x 4096 x
    // 4096: 18.8-20.1 us vs 23.9-25.6 for 128x256 clusters; x 4096 x 14336:
    // 55.3-60.6 vs 70.7-80.5), "Issue 12 — medium M".
    if (fits_one_round(p, swap_t128x192x128_c1x1_coop, device)) return swap_t128x192x128_c1x1_coop;
    // 64x256 pingpong where 128x256 clusters need a second round (513..1024
    // x 6144 x 4096: 24.8-37.3 us vs 45.2-50.1).
    if (!fits_one_round(p, t128x256x128_c2x1_coop, device)) return t64x256x128_c1x1_ping;
  }
  // M <= 512, or up to 2048 when N is wide: 64x256 pingpong (1024x14336x4096
  // 81.2 us vs 94.1 for 128x256; 2048x14336x4096 153.3 vs 157.1).
  if (m <= 512 || (m <= 2048 && n >= 8192)) return t64x256x128_c1x1_ping;
  // Everything larger: 128x256 cooperative, clusters of 2 (8192^3 698 us;
  // 1024x4096x4096 27.4 us vs 27.6 for 128x128), or 256x128 where that
  // takes fewer rounds (4095x4097x4096: 4 rounds instead of 5, 128.4 us vs
  // 146.4).
  return rounds(p, t256x128x128_c2x1_coop, device) < rounds(p, t128x256x128_c2x1_coop, device)
             ? t256x128x128_c2x1_coop
             : t128x256x128_c2x1_coop;
}

// The skinny boundary. H200, 2026-11-30, graph timing (docs/performance.md,
// "Issue 10 — decode" and "Issue 10 — skinny without the prefetch"): at
// M <= 16 the one-tile skinny rows beat the swapped sm90 rows while N and K
// stay at most 8192 (2..16 x 4096 x 4096 6.0-6.6 us vs 7.4-7.5; 2..16 x
// 1024 x 4096 3.0-3.9 vs 5.6-5.7), and at M <= 8 also for K up to 14336
// (2..8 x 4096 x 14336 16.0-16.3 vs 17.4). At N = 14336 and 28672 they tie
// (16.9-17.3 vs 16.5-16.9): sm90 keeps those. sm80-family GPUs take the same
// boundary unmeasured (none here); on an H100 the old skinny row beat the
// sm80 rows 13.0 us to 25.7 at 1x4096x4096 ("Round 3").
// Rows it would have to stage (not 16-byte aligned) go elsewhere: staging
// copies the whole weight.
bool skinny_wins(const GemmProblem& p) {
  const int64_t max_k = p.m() <= 8 ? 16384 : 8192;
  return p.m() <= 16 && p.n() <= 8192 && p.k() <= max_k && row_alignment_bytes(p.x) >= 16 &&
         row_alignment_bytes(p.y) >= 16;
}

// x rows fitting one 8-column mma tile, or a narrow y (the k and v
// projections, where a second CTA along M re-reads little): every K chunk
// of a warp in flight (16x1024x4096 3.9 us vs 4.6; 2..8 x 4096 x 14336
// 16.0-16.3 vs 16.1-16.7; 2..8 x 4096 x 4096 within 2 %).
int skinny_row(const GemmProblem& p) {
  return p.m() <= 8 || p.n() <= 2048 ? skinny::m8_r1_w8_u8 : skinny::m16_r1_w8_u4;
}

// The gemv boundary. H200, 2026-11-30, graph timing (docs/performance.md,
// "Issue 10 — the gemv family"): at one row of x the dp4a row beat skinny and
// sm90 at every decode shape of a Llama-3-8B block (1x14336x4096 15.2 us vs
// 21.5 skinny / ~17.1 sm90; 1x4096x14336 16.0 vs 19.1 / 17.5; 1x4096x4096 6.2
// vs 6.9 skinny); at two rows it lost at 4096x4096 (8.3 vs 7.0) and tied the
// others, and from four rows on the dp4a work outgrows the read. K up to
// 16384 is what was measured.
bool gemv_wins(const GemmProblem& p) {
  return p.m() == 1 && p.k() <= 16384 && p.k() % gemv::kGranule == 0 &&
         row_alignment_bytes(p.x) >= 16 && row_alignment_bytes(p.y) >= 16;
}

int gemv_row(const GemmProblem& p) {
  const int row = gemv::row_for(p.m());
  return row < 0 ? gemv::kNumRows - 1 : row;
}

}  // namespace

const char* family_name(KernelFamily family) {
  switch (family) {
    case KernelFamily::kSimt: return "simt";
    case KernelFamily::kSm80: return "sm80";
    case KernelFamily::kSm90: return "sm90";
    case KernelFamily::kSkinny: return "skinny";
    case KernelFamily::kGemv: return "gemv";
  }
  return "unknown";
}

const std::vector<KernelConfig>& all_configs() {
  static const std::vector<KernelConfig> table = build_table();
  return table;
}

Status parse_kernel_override(const std::string& text, KernelOverride* out) {
  *out = KernelOverride{};
  if (text.empty() || text == "auto") return {};
  for (KernelFamily f : {KernelFamily::kSimt, KernelFamily::kSm80, KernelFamily::kSm90,
                         KernelFamily::kSkinny, KernelFamily::kGemv}) {
    if (text == family_name(f)) {
      *out = KernelOverride{true, true, f, 0};
      return {};
    }
  }
  for (const KernelConfig& c : all_configs()) {
    if (text == c.name) {
      *out = KernelOverride{true, false, c.family, c.row};
      return {};
    }
  }
  std::ostringstream names;
  names << "auto, simt, sm80, sm90, skinny, gemv";
  for (const KernelConfig& c : all_configs()) names << ", " << c.name;
  return Status::value_error("GEMM_INT8_FORCE_KERNEL='" + text +
                             "' is not a kernel family or config; accepted: " + names.str());
}

Status choose_config(const GemmProblem& problem, const DeviceInfo& device,
                     const KernelOverride& override_, KernelConfig* out) {
  // Hopper-native kernels on sm_90 (their wgmma code runs nowhere else),
  // mma.sync tensor cores from sm_80 on, the SIMT kernel for older GPUs.
  const bool sm90_usable = device.cc() == 90 && device.sm90_kernels_built;
  const bool sm80_usable = device.cc() >= 80 && device.sm80_kernels_built;
  const KernelFamily large_family = sm90_usable   ? KernelFamily::kSm90
                                    : sm80_usable ? KernelFamily::kSm80
                                                  : KernelFamily::kSimt;
  KernelFamily family = override_.forced ? override_.family : large_family;
  if (!override_.forced && sm80_usable && gemv_wins(problem))
    family = KernelFamily::kGemv;
  else if (!override_.forced && sm80_usable && skinny_wins(problem))
    family = KernelFamily::kSkinny;
  else if (!override_.forced && sm80_usable && small_with_eight_byte_rows(problem))
    family = KernelFamily::kSm80;
  const bool needs_sm80 = family == KernelFamily::kSm80 || family == KernelFamily::kSkinny ||
                          family == KernelFamily::kGemv;
  if ((needs_sm80 && !sm80_usable) || (family == KernelFamily::kSm90 && !sm90_usable)) {
    const char* why = family == KernelFamily::kSm90 && device.cc() != 90
                          ? "runs only on compute capability 9.0"
                      : needs_sm80 && device.cc() < 80
                          ? "needs compute capability 8.0 or newer"
                          : "was not compiled for this GPU (see GEMM_INT8_CUDA_ARCHS)";
    std::ostringstream os;
    os << "GEMM_INT8_FORCE_KERNEL selects the " << family_name(family) << " family, which " << why
       << "; this GPU is sm_" << device.cc();
    return Status::not_supported(os.str());
  }
  if (override_.forced && !override_.whole_family) {
    *out = row_of(family, override_.row);
    return {};
  }
  switch (family) {
    case KernelFamily::kSimt: *out = row_of(family, 0); break;
    case KernelFamily::kSm80: *out = row_of(family, sm80_row(problem, device)); break;
    case KernelFamily::kSm90: *out = row_of(family, sm90_row(problem, device)); break;
    case KernelFamily::kSkinny: *out = row_of(family, skinny_row(problem)); break;
    case KernelFamily::kGemv: *out = row_of(family, gemv_row(problem)); break;
  }
  return {};
}

std::ostream& operator<<(std::ostream& os, const KernelConfig& c) {
  return os << c.name << " (family " << family_name(c.family) << ", tile " << c.tile.m << "x"
            << c.tile.n << "x" << c.tile.k << ", " << c.stages << " stages, " << c.smem_bytes
            << " B smem)";
}

}  // namespace gemm_int8
