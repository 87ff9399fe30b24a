#include "gemm_int8/staging.h"

namespace gemm_int8 {
namespace {

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// The row pitch of v if `alignment` (v's, by whichever measure the reader
// needs) is at least `required`, else -1. A single row's pitch is only
// passed on: any 16-byte multiple past its end.
template <typename View>
int64_t ld_if_aligned(const View& v, int alignment, int required) {
  if (alignment < required) return -1;
  if (v.rows <= 1) return round_up(v.cols, kDenseAlignK);
  return v.row_stride;
}

}  // namespace

int64_t dense_ld(const MatrixView& v, int align_bytes) {
  return ld_if_aligned(v, row_alignment_bytes(v), align_bytes);
}
int64_t dense_ld(const MutableMatrixView& v, int align_bytes) {
  return ld_if_aligned(v, row_alignment_bytes(v), align_bytes);
}

int64_t operand_ld(const MatrixView& v, const KernelConfig& config) {
  if (!config.reads_ragged_k) return dense_ld(v, config.align_k);
  return ld_if_aligned(v, pitch_alignment_bytes(v), kDenseAlignK);
}

int64_t out_ld(const MutableMatrixView& out, const KernelConfig& config) {
  if (!config.any_out_pitch) return dense_ld(out, kDenseAlignN * 2);
  if (row_alignment_bytes(out) == 0) return -1;
  return out.rows <= 1 ? out.cols : out.row_stride;
}

Staging plan_staging(const GemmProblem& p, const KernelConfig& config) {
  Staging s;
  s.k_padded = round_up(p.k(), kDenseAlignK);
  // A K the row can read in place stays; a staged operand's extra zero
  // columns are then simply not read.
  s.k_kernel = config.reads_ragged_k || p.k() % config.align_k == 0 ? p.k() : s.k_padded;
  const int64_t n_aligned = round_up(p.n(), kDenseAlignN);
  s.n_kernel = config.family == KernelFamily::kSm80 ? n_aligned : p.n();
  s.x = operand_ld(p.x, config) < 0;
  s.y = operand_ld(p.y, config) < 0 || s.n_kernel != p.n();
  // A kernel that sees a padded N writes the padding columns: into a staged
  // out, never into the next row of the caller's (4-byte outs of N % 8 == 4
  // have 16-byte rows and would otherwise be written in place).
  const bool writes_any_strides =
      config.family == KernelFamily::kSkinny || config.family == KernelFamily::kGemv;
  s.out = !writes_any_strides && (out_ld(p.out, config) < 0 || s.n_kernel != p.n());
  s.ld_out = n_aligned;
  return s;
}

}  // namespace gemm_int8
