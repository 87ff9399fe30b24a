// Device facts for dispatch, shared by the CUDA entry points of the core.
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "gemm_int8/config.h"
#include "gemm_int8/status.h"

namespace gemm_int8 {

inline Status cuda_status(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return {};
  return Status::cuda_error(std::string(what) + ": " + cudaGetErrorString(err));
}

// Runs on the problem's device and restores the caller's current device.
class ScopedDevice {
 public:
  explicit ScopedDevice(int device) {
    status_ = cuda_status(cudaGetDevice(&previous_), "cudaGetDevice");
    if (status_.ok() && previous_ != device)
      status_ = cuda_status(cudaSetDevice(device), "cudaSetDevice");
  }
  ~ScopedDevice() {
    int current = previous_;
    if (status_.ok() && cudaGetDevice(&current) == cudaSuccess && current != previous_)
      cudaSetDevice(previous_);
  }
  const Status& status() const { return status_; }

 private:
  int previous_ = 0;
  Status status_;
};

// Compute capability, SM count and which kernel families this build can run
// on CUDA device `ordinal`, which must be current. Cached per ordinal:
// dispatch asks on every call.
Status device_info(int ordinal, DeviceInfo* info);

}  // namespace gemm_int8
