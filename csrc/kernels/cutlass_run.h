// One way to run a CUTLASS device-level operator (2.x device::Gemm or 3.x
// GemmUniversalAdapter) and turn its status into ours.
#pragma once

#include <cutlass/cutlass.h>
#include <cutlass/device_kernel.h>
#include <cutlass/numeric_types.h>

#include <cstdint>
#include <string>

#include "kernels/common/shared_memory_limit.h"
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

// Raises a CUTLASS 3.x kernel's dynamic shared-memory limit once per device
// (GemmUniversalAdapter::initialize would set it on every call).
template <typename Kernel>
cudaError_t allow_shared_memory_once(int device) {
  constexpr int kBytes = static_cast<int>(Kernel::SharedStorageSize);
  if constexpr (kBytes < (48 << 10)) {
    return cudaSuccess;
  } else {
    return raise_shared_memory_limit_once<cutlass::device_kernel<Kernel>>(device, kBytes);
  }
}

// A CUTLASS 3.x GemmUniversalAdapter, run as its initialize + run would but
// with the shared-memory attribute set once per device (above).
template <typename Adapter>
Status run_cutlass3(const char* name, const typename Adapter::Arguments& args, void* workspace,
                    cudaStream_t stream, int device, const typename Adapter::Arguments& check) {
  using Kernel = typename Adapter::GemmKernel;
  cutlass::Status st = Adapter::can_implement(check);
  if (st == cutlass::Status::kSuccess)
    st = Kernel::initialize_workspace(args, workspace, stream, nullptr);
  if (st == cutlass::Status::kSuccess && allow_shared_memory_once<Kernel>(device) != cudaSuccess)
    st = cutlass::Status::kErrorInternal;
  if (st == cutlass::Status::kSuccess) {
    typename Kernel::Params params = Kernel::to_underlying_arguments(args, workspace);
    st = Adapter::run(params, stream);
  }
  if (st != cutlass::Status::kSuccess) return cutlass_error(name, st);
  return launch_status(name);
}

}  // namespace gemm_int8::kernels
