// What a CUDA plan depends on besides the values of the data pointers: the
// shape, the strides and alignment classes of x, y and out, the output
// dtype, the form of the epilogue and the device. A plan run on a problem
// with another key could launch a kernel that misreads its operands, so
// run_cuda refuses it. Pure C++ (tested on machines without a GPU).
#pragma once

#include <cstdint>
#include <string>

#include "gemm_int8/problem.h"

namespace gemm_int8 {

struct PlanKey {
  int64_t m = 0, n = 0, k = 0;
  Device device;
  // row_alignment_bytes of x, y and out: staging and in-place reads follow them.
  int x_align = 0, y_align = 0, out_align = 0;
  // pitch_alignment_bytes of x and y: TMA rows read ragged K in place by them.
  int x_pitch_align = 0, y_pitch_align = 0;
  int64_t x_strides[2] = {0, 0}, y_strides[2] = {0, 0}, out_strides[2] = {0, 0};
  DType out_dtype = DType::kBFloat16;
  // Which epilogue vectors are present, which are per row, the bias dtype.
  uint32_t epilogue_form = 0;

  bool operator==(const PlanKey& o) const;
  bool operator!=(const PlanKey& o) const { return !(*this == o); }
};

PlanKey plan_key(const GemmProblem& problem);

// Empty if the keys are equal, else the first difference in words, e.g.
// "x row alignment: planned 16 bytes, given 1".
std::string plan_key_mismatch(const PlanKey& planned, const PlanKey& given);

}  // namespace gemm_int8
