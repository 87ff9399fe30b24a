// Which operands a dense kernel (tensor-core rows, skinny) takes in place,
// and the staging plan for the others. Pure host logic: plan_cuda uses it,
// CI tests it (tests/cpp/test_staging.cpp).
#pragma once

#include <cstdint>

#include "gemm_int8/config.h"
#include "gemm_int8/problem.h"

namespace gemm_int8 {

constexpr int kDenseAlignK = 16;  // int8 elements per 16-byte access
constexpr int kDenseAlignN = 8;   // N padding of sm80 rows and staged outs (16 bytes of bfloat16)

// Operands the chosen kernel cannot read or write in place are staged
// through workspace (zero-padded to the kernel's alignment).
struct Staging {
  bool x = false;
  bool y = false;
  bool out = false;
  int64_t k_padded = 0;  // row length of staged x and y: K rounded up to 16
  int64_t k_kernel = 0;  // K the kernel sees: K, or k_padded if it must be aligned
  int64_t n_kernel = 0;  // N the kernel sees (staged y has this many rows)
  int64_t ld_out = 0;    // leading dimension of a staged out
};

// Leading dimension a dense kernel may use for `v` if it reads or writes rows
// with `align_bytes`-wide accesses, or -1 if `v` must be staged.
int64_t dense_ld(const MatrixView& v, int align_bytes);
int64_t dense_ld(const MutableMatrixView& v, int align_bytes);

// Leading dimension at which `config` reads x or y in place, or -1 if the
// operand must be staged.
int64_t operand_ld(const MatrixView& v, const KernelConfig& config);

// Leading dimension at which `config` writes out in place, or -1 if out must
// be staged: TMA stores need 16-byte rows, row stores any contiguous rows.
int64_t out_ld(const MutableMatrixView& out, const KernelConfig& config);

// What each kernel needs: tensor-core kernels read x and y as rows aligned
// to the row's align_k (16 bytes, or 8 for the sm80 8-byte rows); staged
// operands become 16-byte rows, zero-padded in K. sm80 also needs N % 8 == 0
// (y gains zero rows). sm90's TMA loads clip a ragged N themselves. Out: TMA
// stores need a 16-byte pitch (else a padded copy is unstaged); skinny
// writes any out, and any_out_pitch rows any out with contiguous rows.
Staging plan_staging(const GemmProblem& problem, const KernelConfig& config);

}  // namespace gemm_int8
