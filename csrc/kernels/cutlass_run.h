// One way to run a CUTLASS device-level operator (2.x device::Gemm or 3.x
// GemmUniversalAdapter) and turn its status into ours.
#pragma once

#include <cutlass/cutlass.h>
#include <cutlass/device_kernel.h>
#include <cutlass/numeric_types.h>

#include <cstdint>
#include <string>

#include "kernels/launchers.h"

namespace gemm_int8::kernels {

// The CUTLASS element type of each output tag (kernels/common/out_tags.h), so
// that a generated translation unit names its type as cutlass_out::GEMM_INT8_OUT.
namespace cutlass_out {
using bf16 = cutlass::bfloat16_t;
using f16 = cutlass::half_t;
using f32 = float;
using i32 = int32_t;
}  // namespace cutlass_out

inline Status cutlass_error(const char* name, cutlass::Status st) {
  const cudaError_t err = cudaGetLastError();
  std::string message = std::string(name) + ": " + cutlassGetStatusString(st);
  if (err != cudaSuccess) message += std::string(" (") + cudaGetErrorString(err) + ")";
  return Status::cuda_error(message);
}

// `check` is what can_implement sees; it differs from `args` only where the
// caller knows better than CUTLASS's conservative checks (see sm90_gemm.cuh).
template <typename Operator>
Status run_cutlass(const char* name, const typename Operator::Arguments& args, void* workspace,
                   cudaStream_t stream, const typename Operator::Arguments* check = nullptr) {
  Operator op;
  cutlass::Status st = op.can_implement(check ? *check : args);
  if (st == cutlass::Status::kSuccess) st = op.initialize(args, workspace, stream);
  if (st == cutlass::Status::kSuccess) st = op.run(stream);
  if (st != cutlass::Status::kSuccess) return cutlass_error(name, st);
  return launch_status(name);
}

}  // namespace gemm_int8::kernels
