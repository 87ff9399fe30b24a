// plan_cuda / run_cuda: device facts, the kernel override, staging of
// operands a kernel cannot take in place, and the launch.
#include <cuda_runtime_api.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <tuple>

#include "core/device_info.h"
#include "gemm_int8/cuda.h"
#include "gemm_int8/plan_key.h"
#include "gemm_int8/validate.h"
#include "kernels/gemv/launcher.h"
#include "kernels/launchers.h"

#ifndef GEMM_INT8_CUDA_ARCHS_STR
#define GEMM_INT8_CUDA_ARCHS_STR "unknown"
#endif

namespace gemm_int8 {
namespace {

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

constexpr size_t kWorkspaceAlign = 256;
size_t aligned_bytes(int64_t bytes) { return round_up(bytes, kWorkspaceAlign); }

void print_config_once(const GemmProblem& p, const KernelConfig& c) {
  const char* env = std::getenv("GEMM_INT8_PRINT_CONFIG");
  if (!env || std::string(env) == "0") return;
  static std::mutex mutex;
  static std::set<std::tuple<int64_t, int64_t, int64_t, int>> seen;
  std::lock_guard<std::mutex> lock(mutex);
  if (seen.insert({p.m(), p.n(), p.k(), static_cast<int>(c.family) * 1000 + c.row}).second)
    std::cerr << "[gemm_int8] M=" << p.m() << " N=" << p.n() << " K=" << p.k() << " -> " << c
              << std::endl;
}

bool needs_workspace_plan(KernelFamily f) { return f != KernelFamily::kSimt; }

// The dense-kernel view of a problem before staging replaces any pointers.
kernels::DenseGemm dense_view(const GemmProblem& p, const Plan& plan, const float* bias) {
  kernels::DenseGemm g;
  g.m = static_cast<int>(p.m());
  g.n = static_cast<int>(plan.staging.n_kernel);
  g.k = static_cast<int>(plan.staging.k_kernel);
  g.n_valid = static_cast<int>(p.n());
  g.x = static_cast<const int8_t*>(p.x.data), g.ld_x = operand_ld(p.x, plan.config);
  g.y = static_cast<const int8_t*>(p.y.data), g.ld_y = operand_ld(p.y, plan.config);
  g.out = p.out.data, g.ld_out = out_ld(p.out, plan.config);
  g.out_dtype = p.out.dtype;
  g.epilogue = epilogue_params(p.epilogue, bias);
  g.device = p.x.device.index;
  g.sm_count = plan.device.sm_count;
  return g;
}

// A bias in the output's 16-bit dtype is widened into workspace, once per
// call (N elements), so that every kernel reads float32.
bool widens_bias(const GemmProblem& p) {
  return p.epilogue.bias.present() && p.epilogue.bias.dtype != DType::kFloat32;
}

}  // namespace

Status device_info(int ordinal, DeviceInfo* info) {
  static std::mutex mutex;
  static std::map<int, DeviceInfo> cache;
  std::lock_guard<std::mutex> lock(mutex);
  if (auto it = cache.find(ordinal); it != cache.end()) {
    *info = it->second;
    return {};
  }
  DeviceInfo d;
  GEMM_INT8_RETURN_IF_ERROR(
      cuda_status(cudaDeviceGetAttribute(&d.cc_major, cudaDevAttrComputeCapabilityMajor, ordinal),
                  "device query"));
  GEMM_INT8_RETURN_IF_ERROR(
      cuda_status(cudaDeviceGetAttribute(&d.cc_minor, cudaDevAttrComputeCapabilityMinor, ordinal),
                  "device query"));
  GEMM_INT8_RETURN_IF_ERROR(
      cuda_status(cudaDeviceGetAttribute(&d.sm_count, cudaDevAttrMultiProcessorCount, ordinal),
                  "device query"));
  GEMM_INT8_RETURN_IF_ERROR(
      cuda_status(cudaDeviceGetAttribute(&d.shared_memory_per_block,
                                         cudaDevAttrMaxSharedMemoryPerBlockOptin, ordinal),
                  "device query"));
  GEMM_INT8_RETURN_IF_ERROR(
      cuda_status(cudaDeviceGetAttribute(&d.shared_memory_per_sm,
                                         cudaDevAttrMaxSharedMemoryPerMultiprocessor, ordinal),
                  "device query"));
  if (kernels::probe_simt() != cudaSuccess) {
    cudaGetLastError();  // the probe's error is an answer, not a fault
    std::ostringstream os;
    os << "gemm_int8 was not compiled for this GPU (sm_" << d.cc()
       << "); rebuild with it in GEMM_INT8_CUDA_ARCHS (built for: " GEMM_INT8_CUDA_ARCHS_STR ")";
    return Status::not_supported(os.str());
  }
#ifdef GEMM_INT8_HAS_SM80
  d.sm80_kernels_built = kernels::probe_sm80() == cudaSuccess;
  cudaGetLastError();
#else
  d.sm80_kernels_built = false;
#endif
#ifdef GEMM_INT8_HAS_SM90
  d.sm90_kernels_built = kernels::probe_sm90() == cudaSuccess;
  cudaGetLastError();
#else
  d.sm90_kernels_built = false;
#endif
  cache[ordinal] = d;
  *info = d;
  return {};
}

namespace {

// The checks every CUDA entry point makes before touching the device.
Status check_cuda_problem(const GemmProblem& p) {
  GEMM_INT8_RETURN_IF_ERROR(validate(p));
  if (p.x.device.kind != Device::Kind::kCuda)
    return Status::value_error("x: the CUDA path needs CUDA memory, x is on cpu");
  if (p.m() > INT32_MAX || p.n() > INT32_MAX)
    return Status::value_error("x, y: M and N must be below 2^31 on the CUDA path");
  return {};
}

// plan_cuda's work on a validated problem whose device is current.
Status make_plan(const GemmProblem& p, const char* forced_text, Plan* plan) {
  Plan result;
  GEMM_INT8_RETURN_IF_ERROR(device_info(p.x.device.index, &result.device));
  KernelOverride forced;
  GEMM_INT8_RETURN_IF_ERROR(parse_kernel_override(forced_text, &forced));

  result.key = plan_key(p);
  GEMM_INT8_RETURN_IF_ERROR(choose_config(p, result.device, forced, &result.config));
  if (needs_workspace_plan(result.config.family)) {
    const Staging& s = result.staging = plan_staging(p, result.config);
    if (result.config.family == KernelFamily::kSm90)
      // The query picks the kernel as the launch will (the bias pointer is
      // only tested for presence here; a 16-bit one is widened at run time).
      result.kernel_workspace_bytes = aligned_bytes(kernels::sm90_workspace_size(
          result.config.row,
          dense_view(p, result, static_cast<const float*>(p.epilogue.bias.data))));
    result.workspace_bytes = result.kernel_workspace_bytes;
    if (s.x) result.workspace_bytes += aligned_bytes(p.m() * s.k_padded);
    if (s.y) result.workspace_bytes += aligned_bytes(s.n_kernel * s.k_padded);
    if (s.out)
      result.workspace_bytes +=
          aligned_bytes(p.m() * s.ld_out * static_cast<int64_t>(dtype_size(p.out.dtype)));
  }
  if (widens_bias(p)) result.workspace_bytes += aligned_bytes(p.n() * 4);
  print_config_once(p, result.config);
  *plan = result;
  return {};
}

// A plan is a function of the PlanKey, the device's facts (fixed per
// ordinal) and GEMM_INT8_FORCE_KERNEL, so each thread keeps its recent
// plans: a hit skips dispatch, staging and the workspace query, 0.5-0.9 us
// of the 4.4 us an empty call spent in the op on the H200's host
// (docs/performance.md, "Issue 12 — host overhead, second round").
struct PlanCache {
  static constexpr int kSize = 16;
  struct Entry {
    bool used = false;
    std::string forced;
    Plan plan;
  };
  Entry entries[kSize];
  int next = 0;

  Status get(const GemmProblem& p, Plan* plan) {
    const char* env = std::getenv("GEMM_INT8_FORCE_KERNEL");  // per call: tests flip it
    const char* forced = env ? env : "";
    const PlanKey key = plan_key(p);
    for (const Entry& e : entries)
      if (e.used && e.plan.key == key && e.forced == forced) {
        *plan = e.plan;
        return {};
      }
    GEMM_INT8_RETURN_IF_ERROR(make_plan(p, forced, plan));
    Entry& slot = entries[next];
    next = (next + 1) % kSize;
    slot.used = true, slot.forced = forced, slot.plan = *plan;
    return {};
  }
};

Status cached_plan(const GemmProblem& p, Plan* plan) {
  thread_local PlanCache cache;
  return cache.get(p, plan);
}

// run_cuda after its checks, on the problem's device.
Status launch_plan(const GemmProblem& p, const Plan& plan, void* workspace, cudaStream_t stream) {
  if (p.m() == 0 || p.n() == 0) return {};

  // Workspace layout: [kernel workspace][staged x][staged y][staged out][bias].
  const Staging& s = plan.staging;
  char* kernel_workspace = static_cast<char*>(workspace);
  char* next = kernel_workspace + plan.kernel_workspace_bytes;
  auto take = [&](int64_t bytes) {
    char* at = next;
    next += aligned_bytes(bytes);
    return at;
  };
  char* bias_workspace = static_cast<char*>(workspace) + plan.workspace_bytes;
  const float* bias = static_cast<const float*>(p.epilogue.bias.data);
  if (widens_bias(p)) {
    bias_workspace -= aligned_bytes(p.n() * 4);
    auto* widened = reinterpret_cast<float*>(bias_workspace);
    GEMM_INT8_RETURN_IF_ERROR(kernels::widen_to_float(p.epilogue.bias, widened, stream));
    bias = widened;
  }
  if (p.k() == 0) return kernels::fill_epilogue(p.out, epilogue_params(p.epilogue, bias), stream);
  if (plan.config.family == KernelFamily::kSimt)
    return kernels::launch_simt(p, epilogue_params(p.epilogue, bias), stream);

  kernels::DenseGemm g = dense_view(p, plan, bias);
  if (s.x) {
    auto* staged = reinterpret_cast<int8_t*>(take(p.m() * s.k_padded));
    GEMM_INT8_RETURN_IF_ERROR(kernels::stage_int8(p.x, staged, p.m(), s.k_padded, stream));
    g.x = staged, g.ld_x = s.k_padded;
  }
  if (s.y) {
    auto* staged = reinterpret_cast<int8_t*>(take(s.n_kernel * s.k_padded));
    GEMM_INT8_RETURN_IF_ERROR(kernels::stage_int8(p.y, staged, s.n_kernel, s.k_padded, stream));
    g.y = staged, g.ld_y = s.k_padded;
  }
  if (s.out) {
    g.out = take(p.m() * s.ld_out * static_cast<int64_t>(dtype_size(p.out.dtype)));
    g.ld_out = s.ld_out;
  }
  if (plan.config.family == KernelFamily::kSkinny || plan.config.family == KernelFamily::kGemv) {
    g.out = p.out.data, g.ld_out = p.out.row_stride;  // any strides
    return plan.config.family == KernelFamily::kSkinny
               ? kernels::launch_skinny(plan.config.row, g, p.out.col_stride, stream)
               : kernels::launch_gemv(plan.config.row, g, p.out.col_stride, stream);
  }
  if (plan.config.family == KernelFamily::kSm90) {
    GEMM_INT8_RETURN_IF_ERROR(kernels::launch_sm90(
        plan.config.row, g, plan.kernel_workspace_bytes ? kernel_workspace : nullptr, stream));
  } else {
    GEMM_INT8_RETURN_IF_ERROR(kernels::launch_sm80(plan.config.row, g, stream));
  }
  if (s.out) return kernels::unstage_out(g.out, s.ld_out, p.out, stream);
  return {};
}

}  // namespace

Status plan_cuda(const GemmProblem& p, Plan* plan) {
  GEMM_INT8_RETURN_IF_ERROR(check_cuda_problem(p));
  ScopedDevice on_device(p.x.device.index);
  GEMM_INT8_RETURN_IF_ERROR(on_device.status());
  return cached_plan(p, plan);
}

Status gemm_cuda(const GemmProblem& p, cudaStream_t stream, WorkspaceAllocator allocate,
                 void* context) {
  GEMM_INT8_RETURN_IF_ERROR(check_cuda_problem(p));
  ScopedDevice on_device(p.x.device.index);
  GEMM_INT8_RETURN_IF_ERROR(on_device.status());
  Plan plan;
  GEMM_INT8_RETURN_IF_ERROR(cached_plan(p, &plan));
  void* workspace = nullptr;
  if (plan.workspace_bytes > 0) {
    workspace = allocate ? allocate(plan.workspace_bytes, context) : nullptr;
    if (!workspace)
      return Status::out_of_memory("workspace: could not allocate " +
                                   std::to_string(plan.workspace_bytes) + " bytes");
  }
  return launch_plan(p, plan, workspace, stream);
}

Status run_cuda(const GemmProblem& p, const Plan& plan, void* workspace, size_t workspace_bytes,
                cudaStream_t stream) {
  GEMM_INT8_RETURN_IF_ERROR(check_cuda_problem(p));
  if (plan.key != plan_key(p))
    return Status::value_error("run_cuda: the plan was made for another problem (" +
                               plan_key_mismatch(plan.key, plan_key(p)) + "); plan it again");
  if (workspace_bytes < plan.workspace_bytes || (plan.workspace_bytes > 0 && !workspace))
    return Status::value_error("workspace: " + std::to_string(plan.workspace_bytes) +
                               " bytes needed, " + std::to_string(workspace_bytes) + " given");
  ScopedDevice on_device(p.x.device.index);
  GEMM_INT8_RETURN_IF_ERROR(on_device.status());
  return launch_plan(p, plan, workspace, stream);
}

}  // namespace gemm_int8
