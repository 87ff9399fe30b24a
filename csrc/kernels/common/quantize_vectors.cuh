// Quantization of 16-byte vectors of x, shared by the quantize kernels and
// the GEMM that quantizes its own activation rows (kernels/gemv): the same
// statistics and the same rounding, so both give the same bits.
#pragma once

#include <cstdint>
#include <type_traits>

#include "core/quantize_math.h"
#include "kernels/common/float_inputs.cuh"

namespace gemm_int8::kernels {

// 16 bytes of x (kElems values) -> kElems int8 stored with one 4- or 8-byte
// store; kFinite: symmetric with p.inv_scale != 0 (quantize_finite, no branch).
template <typename T, bool kAsymmetric, bool kFinite = false>
__device__ __forceinline__ void quantize_vector(const int4& v, const QuantParams& p, int8_t* out) {
  constexpr int kElems = 16 / sizeof(T);
  const T* e = reinterpret_cast<const T*>(&v);
  uint32_t words[kElems / 4];
#pragma unroll
  for (int w = 0; w < kElems / 4; ++w) {
    uint32_t word = 0;
#pragma unroll
    for (int b = 0; b < 4; ++b)
      word |= uint32_t{static_cast<uint8_t>(
                  kFinite ? quantize_finite(to_float(e[4 * w + b]), p)
                          : quantize_value<kAsymmetric>(to_float(e[4 * w + b]), p))}
              << (8 * b);
    words[w] = word;
  }
  if constexpr (kElems == 8) {
    *reinterpret_cast<uint2*>(out) = make_uint2(words[0], words[1]);
  } else {
    *reinterpret_cast<uint32_t*>(out) = words[0];
  }
}

// |v| as a bit pattern: it orders like |v| and puts every NaN above inf, so
// an integer max of these is the NaN-sticky maximum of QuantStats::add.
__device__ __forceinline__ uint32_t abs_bits(float v) { return __float_as_uint(v) & 0x7fffffffu; }

// Lane-wise maximum of two pairs of unsigned 16-bit values: one Hopper
// instruction (max.u16x2); __vmaxu2's emulation before sm_90.
__device__ __forceinline__ uint32_t max_u16x2(uint32_t a, uint32_t b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  uint32_t m;
  asm("max.u16x2 %0, %1, %2;" : "=r"(m) : "r"(a), "r"(b));
  return m;
#else
  return __vmaxu2(a, b);
#endif
}

// |x| as bit patterns, per 32-bit word of x: one float, or two 16-bit
// values. Their unsigned maxima order like |x| and put NaN above inf, in
// either width.
template <typename T>
__device__ __forceinline__ uint32_t magnitudes(uint32_t word) {
  return word & (sizeof(T) == 2 ? 0x7fff7fffu : 0x7fffffffu);
}

template <typename T>
__device__ __forceinline__ uint32_t max_magnitudes(uint32_t a, uint32_t b) {
  if constexpr (sizeof(T) == 2) {
    return max_u16x2(a, b);
  } else {
    return max(a, b);
  }
}

// Element e (0 or 1) of a word of 16-bit magnitudes, or the word's one float.
template <typename T>
__device__ __forceinline__ uint32_t magnitude_at(uint32_t word, int e) {
  return sizeof(T) == 2 ? (e == 0 ? word & 0xffffu : word >> 16) : word;
}

// The larger of a word's magnitudes.
template <typename T>
__device__ __forceinline__ uint32_t word_max(uint32_t word) {
  return max(magnitude_at<T>(word, 0), magnitude_at<T>(word, 1));
}

// The key (abs_bits of the value widened to float) of one magnitude.
template <typename T>
__device__ __forceinline__ uint32_t key_of(uint32_t magnitude) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return magnitude << 16;
  } else if constexpr (std::is_same_v<T, __half>) {
    return abs_bits(__half2float(__ushort_as_half(static_cast<unsigned short>(magnitude))));
  } else {
    return magnitude;
  }
}

// max |v[i]| of a 16-byte vector, as abs_bits.
template <typename T>
__device__ __forceinline__ uint32_t abs_bits_max(const int4& v) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    // bf16 widens by a 16-bit shift, so the largest 16-bit |x| pattern,
    // widened, is the largest widened one: eight values in three Hopper 16x2
    // integer maxima instead of eight widenings and maxima.
    using B = __nv_bfloat16;
    const uint32_t m = max_magnitudes<B>(max_magnitudes<B>(magnitudes<B>(v.x), magnitudes<B>(v.y)),
                                         max_magnitudes<B>(magnitudes<B>(v.z), magnitudes<B>(v.w)));
    return key_of<B>(word_max<B>(m));
  }
#endif
  const T* e = reinterpret_cast<const T*>(&v);
  uint32_t bits = 0;
#pragma unroll
  for (int i = 0; i < 16 / static_cast<int>(sizeof(T)); ++i)
    bits = max(bits, abs_bits(to_float(e[i])));
  return bits;
}

__device__ __forceinline__ uint32_t warp_max(uint32_t v) {
  for (int offset = 16; offset > 0; offset /= 2)
    v = max(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// The symmetric parameters of a group whose |x| maximum is `bits` (abs_bits).
__device__ __forceinline__ QuantParams params_of_abs_max(uint32_t bits) {
  QuantStats s;
  s.hi = __uint_as_float(bits);
  return quant_params<false>(s);
}

template <typename T, bool kAsymmetric>
__device__ __forceinline__ void add_vector(QuantStats& s, const int4& v) {
  const T* e = reinterpret_cast<const T*>(&v);
  if constexpr (kAsymmetric) {
#pragma unroll
    for (int i = 0; i < 16 / static_cast<int>(sizeof(T)); ++i) s.add<true>(to_float(e[i]));
  } else {
    s.add<false>(__uint_as_float(abs_bits_max<T>(v)));
  }
}

// Merges the statistics of a warp's lanes (every lane gets the result).
__device__ __forceinline__ QuantStats warp_merge(QuantStats s) {
  for (int offset = 16; offset > 0; offset /= 2)
    s.merge(
        {__shfl_xor_sync(0xffffffffu, s.hi, offset), __shfl_xor_sync(0xffffffffu, s.lo, offset)});
  return s;
}

// Merges the statistics of a CTA's threads (every thread gets the result);
// `shared` holds 33 entries and may be reused once this returns.
__device__ __forceinline__ QuantStats block_reduce(QuantStats s, QuantStats* shared) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  s = warp_merge(s);
  if (lane == 0) shared[warp] = s;
  __syncthreads();
  if (warp == 0) {
    s = warp_merge(lane < static_cast<int>(blockDim.x / 32) ? shared[lane] : QuantStats{});
    if (lane == 0) shared[32] = s;
  }
  __syncthreads();
  s = shared[32];
  __syncthreads();  // shared[] may be reused by the caller
  return s;
}

}  // namespace gemm_int8::kernels
