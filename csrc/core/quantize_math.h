// The quantization rule of quantize.h, written once for the CPU loop and the
// CUDA kernels. Compiles as plain C++ and as CUDA. x / scale is the
// correctly rounded IEEE quotient on every path, so every path rounds alike;
// where the scale allows, it is computed without a division (see divide()).
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

// Scale and zero point of one group. inv_scale is 1 / scale rounded to
// nearest when divide() may use it, 0 otherwise.
struct QuantParams {
  float scale = 1.0f;
  int32_t zero_point = 0;
  float inv_scale = 0.0f;
};

// Scales in [2^-64, 2^64] keep every intermediate of divide() normal for the
// quotients that matter (|x / scale| >= 2^-30; smaller ones round to 0 either
// way), which is what its exactness argument needs.
GEMM_INT8_HD float reciprocal_for_divide(float scale) {
  const bool normal_range = scale >= 5.421010862e-20f && scale <= 1.844674407e19f;
#if defined(__CUDA_ARCH__)
  return normal_range ? __frcp_rn(scale) : 0.0f;
#else
  return normal_range ? 1.0f / scale : 0.0f;
#endif
}

// x / p.scale, correctly rounded. Division is the slowest float operation
// on a GPU (a reciprocal on the special-function unit plus a range check per
// element); with the row's reciprocal r = RN(1 / scale) it is five
// full-rate operations: y0 = RN(x r) is within 1.5 ulp of the quotient, one
// residual step (e = x - scale y, exact in an fma) makes it faithful, and a
// second one rounds it correctly (Markstein's theorem: faithful y, r within
// half an ulp of 1 / scale). tests/cpp/test_quantize.cpp compares it with
// the division on adversarial quotients.
GEMM_INT8_HD float divide_by_reciprocal(float x, const QuantParams& p) {
  const float r = p.inv_scale;
  float y = x * r;
  y = fmaf(fmaf(-y, p.scale, x), r, y);
  return fmaf(fmaf(-y, p.scale, x), r, y);
}

GEMM_INT8_HD float divide(float x, const QuantParams& p) {
  return p.inv_scale == 0.0f ? x / p.scale : divide_by_reciprocal(x, p);
}

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
    p.inv_scale = reciprocal_for_divide(p.scale);
    return p;
  }
  p.scale = (s.hi - s.lo) / 255.0f;
  if (p.scale == 0.0f) p.scale = 1.0f;
  p.zero_point = -128 - round_clamp(s.lo / p.scale, -255, 0);
  p.inv_scale = reciprocal_for_divide(p.scale);
  return p;
}

// round_clamp for a finite v: on the GPU an add that rounds to an integer
// (1.5 * 2^23 + v has unit spacing, ties to even) instead of a conversion on
// the special-function unit.
GEMM_INT8_HD int32_t round_clamp_finite(float v, int32_t lo, int32_t hi) {
#if defined(__CUDA_ARCH__)
  v = fminf(fmaxf(v, static_cast<float>(lo)), static_cast<float>(hi));
  return __float_as_int(__fadd_rn(v, 12582912.0f)) - 0x4B400000;
#else
  return round_clamp(v, lo, hi);
#endif
}

// inv_scale != 0 means a finite scale, so the group's own values give finite
// quotients; NaN and inf take round_clamp's general path.
template <bool kAsymmetric>
GEMM_INT8_HD int8_t quantize_value(float v, const QuantParams& p) {
  const float q = divide(v, p);
  constexpr int32_t lo = kAsymmetric ? -512 : -127, hi = kAsymmetric ? 512 : 127;
  int32_t r = p.inv_scale != 0.0f ? round_clamp_finite(q, lo, hi) : round_clamp(q, lo, hi);
  if (!kAsymmetric) return static_cast<int8_t>(r);
  // rint(x / scale) lies in [-255, 255] for the group's own x; + zp in int32.
  r += p.zero_point;
  return static_cast<int8_t>(r < -128 ? -128 : (r > 127 ? 127 : r));
}

// quantize_value<false> for a value of the group whose |x| maximum set p
// (p.inv_scale != 0, so its quotients are finite), without a branch: kernels
// test the group's parameters once and keep the per-element code
// branch-free. No clamp either: scale = fl(max / 127) >= (max / 127)(1 -
// 2^-24), so |fl(v / scale)| <= 127 (1 + 2^-23) < 127.5 rounds to at most
// 127 (tests/cpp/test_quantize.cpp checks the maxima of many groups).
GEMM_INT8_HD int8_t quantize_finite(float v, const QuantParams& p) {
  const float q = divide_by_reciprocal(v, p);
#if defined(__CUDA_ARCH__)
  return static_cast<int8_t>(__float_as_int(__fadd_rn(q, 12582912.0f)) - 0x4B400000);
#else
  return static_cast<int8_t>(round_clamp(q, -127, 127));
#endif
}

}  // namespace gemm_int8
