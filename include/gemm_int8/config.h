// Kernel configurations as values, and the dispatch that picks one.
// Pure C++: testable on machines without a GPU (tests/cpp/test_dispatch.cpp).
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "gemm_int8/problem.h"
#include "gemm_int8/status.h"

namespace gemm_int8 {

// A family is a kernel implementation strategy with its own table of rows.
enum class KernelFamily : uint8_t {
  kSimt,    // CUDA cores, any layout, any GPU this CUDA supports (sm_75+)
  kSm80,    // tensor cores through mma.sync (CUTLASS 2.x); sm_80 and newer
  kSm90,    // Hopper: TMA + wgmma, warp-specialized (CUTLASS 3.x); sm_90 only
  kSkinny,  // small M: a bandwidth-bound mma.sync kernel streaming y; sm_80 and newer
  kGemv,    // M <= 2: dp4a on CUDA cores, warps streaming whole runs of y; sm_80 and newer
};

const char* family_name(KernelFamily family);

struct TileShape {
  int m = 0, n = 0, k = 0;
};

// One row of a family's table.
struct KernelConfig {
  KernelFamily family = KernelFamily::kSimt;
  int row = 0;            // index into the family's table
  const char* name = "";  // stable, printable, accepted by GEMM_INT8_FORCE_KERNEL
  TileShape tile;
  int stages = 0;
  int smem_bytes = 0;  // static estimate: stages * (tile.m + tile.n) * tile.k; 0 if auto
  // Alignment in bytes (base, pitch and K) at which the row reads x and y in
  // place; rows without it are staged into 16-byte rows.
  int align_k = 16;
  int cluster_m = 1;     // CTAs of a cluster along the kernel's M (they share B tiles)
  bool swap_ab = false;  // runs out^T = y . x^T: tile.m covers N, tile.n covers M
  // Writes out rows of any pitch in place (unit column stride); other rows
  // need a 16-byte pitch or write a padded copy that is then unstaged.
  bool any_out_pitch = false;
  // Reads x and y rows of any length K in place when their base and pitch
  // are 16-byte aligned (TMA loads zero-fill past the end of a row); other
  // rows need K aligned to align_k too, or a zero-padded staged copy.
  bool reads_ragged_k = false;
};

// What dispatch needs to know about a GPU.
struct DeviceInfo {
  int cc_major = 0;
  int cc_minor = 0;
  int sm_count = 0;
  // Opt-in dynamic shared memory of one block, and all of an SM's (bytes).
  int shared_memory_per_block = 0;
  int shared_memory_per_sm = 0;
  // Whether this build carries sm80-family code the device can run
  // (machine code or PTX); false e.g. when built with GEMM_INT8_CUDA_ARCHS=75.
  bool sm80_kernels_built = true;
  bool sm90_kernels_built = true;  // sm_90a machine code (no PTX fallback exists)
  int cc() const { return cc_major * 10 + cc_minor; }
};

// Every row of every family, in table order.
const std::vector<KernelConfig>& all_configs();

// A user's request to pin the kernel: a family ("simt", "sm80", "skinny") or
// a row name ("sm80_t128x256x64_w64x64x64_s3"). Empty = automatic. Forcing
// the sm80 or sm90 family keeps its own rows for every M (no skinny rows).
struct KernelOverride {
  bool forced = false;
  bool whole_family = true;
  KernelFamily family = KernelFamily::kSimt;
  int row = 0;
};

// Parses GEMM_INT8_FORCE_KERNEL's syntax; an unknown name is a value error
// that lists the accepted names.
Status parse_kernel_override(const std::string& text, KernelOverride* out);

// Chooses the row for a problem that validate() accepted. Never reads the
// environment: callers pass the override so this stays a pure function.
Status choose_config(const GemmProblem& problem, const DeviceInfo& device,
                     const KernelOverride& override_, KernelConfig* out);

std::ostream& operator<<(std::ostream& os, const KernelConfig& config);

}  // namespace gemm_int8
