// float -> bfloat16 / float16 bits with round-to-nearest-even, bit-exact
// with __float2bfloat16_rn / __float2half_rn and torch's CPU conversions.
// Host-only (the CUDA kernels use the intrinsics).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "gemm_int8/problem.h"

namespace gemm_int8 {

inline uint16_t float_to_bf16_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>((bits >> 16) | 0x40u);  // quiet NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);  // carries into the exponent, saturating to inf
  return static_cast<uint16_t>(bits >> 16);
}

inline uint16_t float_to_half_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  const auto sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t abs = bits & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00u;   // quiet NaN
  if (abs >= 0x477ff000u) return sign | 0x7c00u;  // 65520 and above round to inf
  if (abs >= 0x38800000u) {                       // a normal half (>= 2^-14)
    const uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);
    return sign | static_cast<uint16_t>((rounded - 0x38000000u) >> 13);  // rebias 127 -> 15
  }
  // Subnormal or zero: multiples of 2^-24; the scaling is exact and
  // nearbyint rounds half to even (the default rounding mode).
  float magnitude;
  std::memcpy(&magnitude, &abs, sizeof(magnitude));
  return sign | static_cast<uint16_t>(std::nearbyint(magnitude * 16777216.0f));
}

inline float bf16_bits_to_float(uint16_t bits) {
  const uint32_t wide = uint32_t{bits} << 16;
  float value;
  std::memcpy(&value, &wide, sizeof(value));
  return value;
}

inline float half_bits_to_float(uint16_t bits) {
  const float sign = (bits & 0x8000u) ? -1.0f : 1.0f;
  const int exponent = (bits >> 10) & 0x1f;
  const int mantissa = bits & 0x3ff;
  if (exponent == 0x1f) return mantissa ? std::nanf("") : sign * INFINITY;
  if (exponent == 0) return sign * std::ldexp(static_cast<float>(mantissa), -24);
  return sign * std::ldexp(static_cast<float>(mantissa | 0x400), exponent - 25);
}

// Element `offset` of a float32, bfloat16 or float16 array, as float32; the
// dtype fixed at compile time for inner loops (any dtype but float32 and
// bfloat16 is read as float16).
template <DType kDtype>
inline float load_as(const void* base, int64_t offset) {
  if constexpr (kDtype == DType::kFloat32)
    return static_cast<const float*>(base)[offset];
  else if constexpr (kDtype == DType::kBFloat16)
    return bf16_bits_to_float(static_cast<const uint16_t*>(base)[offset]);
  else
    return half_bits_to_float(static_cast<const uint16_t*>(base)[offset]);
}

// The same with the dtype known at run time (the one dtype switch of the host
// paths that read any float dtype).
inline float load_float(DType dtype, const void* base, int64_t offset) {
  switch (dtype) {
    case DType::kFloat32: return load_as<DType::kFloat32>(base, offset);
    case DType::kBFloat16: return load_as<DType::kBFloat16>(base, offset);
    default: return load_as<DType::kFloat16>(base, offset);
  }
}

// Stores `value` rounded once (to nearest even) into a float32, bfloat16 or
// float16 array.
inline void store_float(DType dtype, void* base, int64_t offset, float value) {
  switch (dtype) {
    case DType::kFloat32: static_cast<float*>(base)[offset] = value; return;
    case DType::kBFloat16: static_cast<uint16_t*>(base)[offset] = float_to_bf16_bits(value); return;
    default: static_cast<uint16_t*>(base)[offset] = float_to_half_bits(value);
  }
}

}  // namespace gemm_int8
