// The epilogue arithmetic, written once for every path: the CPU GEMM, the
// hand-written CUDA kernels (simt, skinny, the sm90 row-store epilogue, the
// K = 0 fill) and the CUTLASS epilogue trees (sm80 and sm90), which feed it
// the values their broadcast nodes loaded. Compiles as plain C++ and as CUDA.
//
//   out = cast_out(fma(xs * ys, float(acc - zp * y_sum), bias))
//
// Integer part in two's-complement int32 (exact whenever the true value fits,
// as it does for |x - zp| <= 255 and K <= 65791); float(.) rounds to nearest
// even; xs * ys is one float32 rounding; the fused multiply-add is one more;
// cast_out one more. Absent operands take neutral values: xs = alpha,
// ys = 1, zp = 0, bias = -0.0 (x + -0.0 == x for every x, -0.0 included).
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define GEMM_INT8_HD __host__ __device__ __forceinline__
#else
#define GEMM_INT8_HD inline
#endif

namespace gemm_int8 {

GEMM_INT8_HD int32_t zero_point_corrected(int32_t acc, int32_t zp, int32_t y_sum) {
  return static_cast<int32_t>(static_cast<uint32_t>(acc) -
                              static_cast<uint32_t>(zp) * static_cast<uint32_t>(y_sum));
}

GEMM_INT8_HD float scaled_value(int32_t corrected, float xs, float ys, float bias) {
  return fmaf(xs * ys, static_cast<float>(corrected), bias);
}

// The device-ready epilogue: raw pointers (null = absent), a step of 0 for a
// single value and 1 for one value per row. Built by the runner from a
// validated Epilogue (bias already float32). Trivially copyable: kernels take
// it by value.
struct EpilogueParams {
  const float* x_scale = nullptr;
  int64_t x_scale_step = 0;
  float alpha = 1.0f;  // xs when x_scale is absent
  const float* y_scale = nullptr;
  int64_t y_scale_step = 0;
  const float* bias = nullptr;
  const int32_t* x_zero_point = nullptr;
  int64_t x_zero_point_step = 0;
  const int32_t* y_sums = nullptr;

  GEMM_INT8_HD float xs(int64_t m) const { return x_scale ? x_scale[m * x_scale_step] : alpha; }
  GEMM_INT8_HD float ys(int64_t n) const { return y_scale ? y_scale[n * y_scale_step] : 1.0f; }
  GEMM_INT8_HD float bias_at(int64_t n) const { return bias ? bias[n] : -0.0f; }
  GEMM_INT8_HD int32_t corrected(int32_t acc, int64_t m, int64_t n) const {
    return x_zero_point ? zero_point_corrected(acc, x_zero_point[m * x_zero_point_step], y_sums[n])
                        : acc;
  }
  // The float32 value before the cast to out's dtype.
  GEMM_INT8_HD float apply(int32_t acc, int64_t m, int64_t n) const {
    return scaled_value(corrected(acc, m, n), xs(m), ys(n), bias_at(n));
  }
};

struct Epilogue;
// The params of a validated Epilogue. The bias must already be float32:
// `bias_f32` replaces e.bias (the callers convert a 16-bit bias). Host code.
EpilogueParams epilogue_params(const Epilogue& e, const float* bias_f32);

}  // namespace gemm_int8
