// The tile machinery of the quantize-with-transpose kernels: x walked in
// strips (a column tile and a run of row tiles), each tile streamed through
// a ring of shared-memory slots with cp.async, several tiles in flight while
// one is worked on. Each thread copies and later reads only its own vectors,
// so no barrier stands between a copy and its use.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/common/float_inputs.cuh"

namespace gemm_int8::kernels::tiles {

// A tile is kTileRows x kTileCols of x: each warp spans a tile row (a lane
// per chunk of 8 consecutive columns, one 16-byte load in bfloat16) and owns
// 8 consecutive rows, so each column's 8 values make one 8-byte unit of qt.
constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kChunk = 8;
constexpr int kRowsPerWarp = 8;
constexpr int kTileCols = 32 * kChunk;            // 256
constexpr int kTileRows = kWarps * kRowsPerWarp;  // 64: a qt row of a tile is 64 bytes

struct Input {
  const void* x;
  int64_t ldx, col_stride;
  bool vector;  // 16-byte loads: unit column stride, 16-byte aligned rows
  int64_t rows, cols, tiles_r, tiles_c;
};

// A thread's part of a tile row: kChunk values of x's dtype in kVecs
// 16-byte vectors, read as 32-bit words of kPerWord values.
template <typename T>
struct Chunk {
  static constexpr int kVecs = kChunk * sizeof(T) / 16;
  static constexpr int kWords = kChunk * sizeof(T) / 4;
  static constexpr int kPerWord = 4 / sizeof(T);
};

// Value j of a row chunk held as words, widened to float (exact).
template <typename T>
__device__ __forceinline__ float value_at(const uint32_t (&words)[Chunk<T>::kWords], int j) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return __uint_as_float(j % 2 ? words[j / 2] & 0xffff0000u : words[j / 2] << 16);
  } else if constexpr (std::is_same_v<T, __half>) {
    const uint32_t w = words[j / 2];
    return __half2float(__ushort_as_half(static_cast<unsigned short>(j % 2 ? w >> 16 : w)));
  } else {
    return __uint_as_float(words[j]);
  }
}

// A row of x's chunk at (r, c) element by element (x's edge, or an x without
// 16-byte rows), zeros outside x.
template <typename T>
struct EdgeRow {
  int4 vecs[Chunk<T>::kVecs];
};
template <typename T>
__device__ __noinline__ EdgeRow<T> load_edge_row(const Input& in, int64_t r, int64_t c) {
  T values[kChunk];
  const T* p = static_cast<const T*>(in.x) + r * in.ldx + c * in.col_stride;
  for (int j = 0; j < kChunk; ++j, p += in.col_stride)
    values[j] = r < in.rows && c + j < in.cols ? *p : T(0.0f);
  EdgeRow<T> row;
  memcpy(&row, values, sizeof(values));
  return row;
}

// The ring both passes stream tiles through: kStages slots of one tile, each
// thread's vectors in its own column of a slot (it alone writes and reads
// them: no barrier between a copy and its use).
template <typename T>
using Slot = int4[kRowsPerWarp * Chunk<T>::kVecs][kThreads];

template <typename T, int kStages>
struct Ring {
  Slot<T> slots[kStages];
};

// Row i of this thread's part of a staged tile, as words.
template <typename T>
__device__ __forceinline__ void row_words(const Slot<T>& slot, int i,
                                          uint32_t (&words)[Chunk<T>::kWords]) {
#pragma unroll
  for (int k = 0; k < Chunk<T>::kVecs; ++k) {
    const int4 v = slot[i * Chunk<T>::kVecs + k][threadIdx.x];
    words[4 * k] = v.x, words[4 * k + 1] = v.y, words[4 * k + 2] = v.z, words[4 * k + 3] = v.w;
  }
}

// cp.async on sm_80 and later; before it (sm_75), a plain load and store:
// the ring then only orders the work, without overlap.
__device__ __forceinline__ void copy_async_16(int4* shared, const void* global, int bytes) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const auto address = static_cast<uint32_t>(__cvta_generic_to_shared(shared));
  // bytes < 16 zero-fills the rest (x's edge).
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(address), "l"(global),
               "r"(bytes)
               : "memory");
#else
  int4 v = make_int4(0, 0, 0, 0);
  if (bytes == 16) {
    v = *static_cast<const int4*>(global);
  } else {
    for (int i = 0; i < bytes; ++i)
      reinterpret_cast<char*>(&v)[i] = static_cast<const char*>(global)[i];
  }
  *shared = v;
#endif
}
__device__ __forceinline__ void commit_copies() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;" ::: "memory");
#endif
}
template <int kPending>
__device__ __forceinline__ void wait_copies() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group %0;" ::"n"(kPending) : "memory");
#endif
}

// n clamped to [0, limit].
__device__ __forceinline__ int clamp_count(int64_t n, int limit) {
  return n <= 0 ? 0 : (n >= limit ? limit : static_cast<int>(n));
}

// One block's strip: column tile tc, row tiles [first, last); this thread's
// columns c.. and how many bytes of each of its vectors lie inside x.
template <typename T>
struct Strip {
  int64_t tc, first, last, c0, c;
  int cols_here;  // of this thread's kChunk columns, inside x
  int vec_bytes[Chunk<T>::kVecs];
  bool full;  // all kChunk columns inside x

  // Strip `b` of `strip_tiles` row tiles, the last strip first when `reversed`.
  __device__ Strip(const Input& in, int64_t strip_tiles, int64_t b, bool reversed) {
    const int64_t strips = (in.tiles_r + strip_tiles - 1) / strip_tiles;
    const int64_t s = reversed ? strips - 1 - b / in.tiles_c : b / in.tiles_c;
    tc = b % in.tiles_c;
    first = s * strip_tiles;
    last = first + strip_tiles < in.tiles_r ? first + strip_tiles : in.tiles_r;
    c0 = tc * kTileCols;
    c = c0 + threadIdx.x % 32 * kChunk;
    cols_here = clamp_count(in.cols - c, kChunk);
    full = cols_here == kChunk;
#pragma unroll
    for (int k = 0; k < Chunk<T>::kVecs; ++k) {
      const int64_t left = (in.cols - c - k * (16 / int64_t{sizeof(T)})) * int64_t{sizeof(T)};
      vec_bytes[k] = clamp_count(left, 16);
    }
  }
};

// How many of the `limit` rows from r lie inside x.
__device__ __forceinline__ int rows_inside(const Input& in, int64_t r, int limit) {
  return clamp_count(in.rows - r, limit);
}

// Starts the copy of this thread's part of tile row `tr` into `slot`: cp.async
// where x's rows allow 16-byte loads, element loads otherwise.
template <typename T>
__device__ __forceinline__ void stage_tile(const Input& in, const Strip<T>& strip, int64_t tr,
                                           Slot<T>& slot) {
  using C = Chunk<T>;
  const int64_t r = tr * kTileRows + threadIdx.x / 32 * kRowsPerWarp;
  if (!in.vector) {
#pragma unroll 1
    for (int i = 0; i < kRowsPerWarp; ++i) {
      const EdgeRow<T> row = load_edge_row<T>(in, r + i, strip.c);
#pragma unroll
      for (int k = 0; k < C::kVecs; ++k) slot[i * C::kVecs + k][threadIdx.x] = row.vecs[k];
    }
    return;
  }
  const int rows_here = rows_inside(in, r, kRowsPerWarp);
  const T* x = static_cast<const T*>(in.x);
  const T* src = x + r * in.ldx + strip.c;
  constexpr int kPerVec = 16 / sizeof(T);
  if (rows_here == kRowsPerWarp && strip.full) {  // inside x: no per-copy bounds
#pragma unroll
    for (int i = 0; i < kRowsPerWarp; ++i, src += in.ldx)
#pragma unroll
      for (int k = 0; k < C::kVecs; ++k)
        copy_async_16(&slot[i * C::kVecs + k][threadIdx.x], src + k * kPerVec, 16);
    return;
  }
#pragma unroll
  for (int i = 0; i < kRowsPerWarp; ++i, src += in.ldx)
#pragma unroll
    for (int k = 0; k < C::kVecs; ++k) {
      const int n = i < rows_here ? strip.vec_bytes[k] : 0;
      copy_async_16(&slot[i * C::kVecs + k][threadIdx.x], n > 0 ? src + k * kPerVec : x, n);
    }
}

// Streams the strip's tiles through the ring, each staged kStages - 1 tiles
// ahead of visit(tr, slot).
template <typename T, int kStages, typename Visit>
__device__ __forceinline__ void walk_strip(const Input& in, const Strip<T>& strip,
                                           Ring<T, kStages>& ring, Visit&& visit) {
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (strip.first + s < strip.last) stage_tile<T>(in, strip, strip.first + s, ring.slots[s]);
    commit_copies();
  }
  for (int64_t tr = strip.first; tr < strip.last; ++tr) {
    const int n = static_cast<int>((tr - strip.first) % kStages);
    const int64_t ahead = tr + kStages - 1;
    if (ahead < strip.last)
      stage_tile<T>(in, strip, ahead, ring.slots[(n + kStages - 1) % kStages]);
    commit_copies();
    wait_copies<kStages - 1>();
    visit(tr, ring.slots[n]);
  }
  wait_copies<0>();
}

// Strips of equal length for `slots` blocks resident at once: one wave,
// each column tile split into as many strips as the wave allows.
inline int64_t strip_tiles_for(const Input& in, int64_t slots) {
  const int64_t per_column = std::max<int64_t>(1, slots / in.tiles_c);
  return (in.tiles_r + per_column - 1) / per_column;
}

}  // namespace gemm_int8::kernels::tiles
