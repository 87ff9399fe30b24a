// The quantization rule of quantize.h, written once for the CPU loop and the
// CUDA kernels. Compiles as plain C++ and as CUDA. Division is a real IEEE
// division (never a multiply by a reciprocal), so every path rounds alike.
#pragma once

#include <cmath>
#include <cstdint>

#ifndef GEMM_INT8_HD
#if defined(__CUDACC__)
#define GEMM_INT8_HD __host__ __device__ __forceinline__
#else
#define GEMM_INT8_HD inline
#endif
#endif

namespace gemm_int8 {

// A group's running statistics: hi is a NaN-sticky max (of |x| when
// symmetric, of x otherwise), lo a min of x (asymmetric only; a NaN there is
// caught by hi). Both start at 0, which also puts 0 inside [lo, hi].
struct QuantStats {
  float hi = 0.0f;
  float lo = 0.0f;

  template <bool kAsymmetric>
  GEMM_INT8_HD void add(float v) {
    const float h = kAsymmetric ? v : fabsf(v);
    hi = (h > hi || h != h) ? h : hi;  // once NaN, no comparison replaces it
    if (kAsymmetric) lo = v < lo ? v : lo;
  }
  GEMM_INT8_HD void merge(const QuantStats& o) {
    hi = (o.hi > hi || o.hi != o.hi) ? o.hi : hi;
    lo = o.lo < lo ? o.lo : lo;
  }
};

// Scale and zero point of one group.
struct QuantParams {
  float scale = 1.0f;
  int32_t zero_point = 0;
};

// rint(v) to nearest even, NaN -> 0, clamped to [lo, hi].
GEMM_INT8_HD int32_t round_clamp(float v, int32_t lo, int32_t hi) {
#if defined(__CUDA_ARCH__)
  const int32_t r = __float2int_rn(v);  // NaN -> 0, saturates out of range
  return r < lo ? lo : (r > hi ? hi : r);
#else
  if (v != v) return 0 < lo ? lo : (0 > hi ? hi : 0);
  // Clamping to integer bounds before rounding gives the same result and
  // keeps the value inside int32.
  v = v < static_cast<float>(lo) ? static_cast<float>(lo) : v;
  v = v > static_cast<float>(hi) ? static_cast<float>(hi) : v;
  return static_cast<int32_t>(std::nearbyint(v));
#endif
}

template <bool kAsymmetric>
GEMM_INT8_HD QuantParams quant_params(const QuantStats& s) {
  QuantParams p;
  if (!kAsymmetric) {
    p.scale = s.hi / 127.0f;
    if (p.scale == 0.0f) p.scale = 1.0f;  // all-zero (or tiny) group: q = 0
    return p;
  }
  p.scale = (s.hi - s.lo) / 255.0f;
  if (p.scale == 0.0f) p.scale = 1.0f;
  p.zero_point = -128 - round_clamp(s.lo / p.scale, -255, 0);
  return p;
}

template <bool kAsymmetric>
GEMM_INT8_HD int8_t quantize_value(float v, const QuantParams& p) {
  if (!kAsymmetric) return static_cast<int8_t>(round_clamp(v / p.scale, -127, 127));
  // rint(x / scale) lies in [-255, 255] for the group's own x; + zp in int32.
  const int32_t r = round_clamp(v / p.scale, -512, 512) + p.zero_point;
  return static_cast<int8_t>(r < -128 ? -128 : (r > 127 ? 127 : r));
}

}  // namespace gemm_int8
