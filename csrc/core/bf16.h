// float -> bfloat16 with round-to-nearest-even, bit-exact with
// __float2bfloat16_rn and torch's CPU conversion. Host-only.
#pragma once

#include <cstdint>
#include <cstring>

namespace gemm_int8 {

inline uint16_t float_to_bf16_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>((bits >> 16) | 0x40u);  // quiet NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);  // carries into the exponent, saturating to inf
  return static_cast<uint16_t>(bits >> 16);
}

}  // namespace gemm_int8
