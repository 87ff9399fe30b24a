// The CPU path: exact int32 accumulation, blocked for cache, spread over
// threads. Not a tuned BLAS; fast enough that tests and CPU users don't wait.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "core/epilogue_math.h"
#include "core/narrow_float.h"
#include "gemm_int8/cpu.h"
#include "gemm_int8/validate.h"

namespace gemm_int8 {
namespace {

constexpr int64_t kBlockM = 16;
constexpr int64_t kBlockN = 64;
constexpr int64_t kBlockK = 1024;

// Contiguous K-major copy of a strided int8 view, or the view itself if it
// already is one.
const int8_t* packed_rows(const MatrixView& v, std::vector<int8_t>& storage) {
  const auto* base = static_cast<const int8_t*>(v.data);
  if (v.col_stride == 1 && (v.row_stride == v.cols || v.rows <= 1)) return base;
  storage.resize(static_cast<size_t>(v.rows * v.cols));
  for (int64_t r = 0; r < v.rows; ++r)
    for (int64_t c = 0; c < v.cols; ++c)
      storage[r * v.cols + c] = base[r * v.row_stride + c * v.col_stride];
  return storage.data();
}

// The compiler vectorizes this widening dot product (pmaddwd on x86).
inline int32_t dot(const int8_t* a, const int8_t* b, int64_t n) {
  int32_t sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += int32_t{a[i]} * int32_t{b[i]};
  return sum;
}

// acc[i * acc_ld + j] += dot(x row i, y row j) for a 4 x 2 block of rows of
// length n, rows ld apart. Register blocking: each loaded x and y vector feeds
// two and four multiply-adds, so the loop is compute- rather than load-bound.
using Block4x2 = void (*)(const int8_t* x, const int8_t* y, int64_t ld, int64_t n, int32_t* acc,
                          int64_t acc_ld);

void block4x2_portable(const int8_t* x, const int8_t* y, int64_t ld, int64_t n, int32_t* acc,
                       int64_t acc_ld) {
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 2; ++j) acc[i * acc_ld + j] += dot(x + i * ld, y + j * ld, n);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx2"))) void block4x2_avx2(const int8_t* x, const int8_t* y, int64_t ld,
                                                   int64_t n, int32_t* acc, int64_t acc_ld) {
  __m256i sums[4][2];
  for (auto& row : sums)
    for (auto& v : row) v = _mm256_setzero_si256();
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) {
    __m256i xv[4], yv[2];
    for (int i = 0; i < 4; ++i)
      xv[i] =
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i * ld + k)));
    for (int j = 0; j < 2; ++j)
      yv[j] =
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(y + j * ld + k)));
    // int16 x int16 pairs summed into int32 lanes: at most 2 * 16384, exact.
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 2; ++j)
        sums[i][j] = _mm256_add_epi32(sums[i][j], _mm256_madd_epi16(xv[i], yv[j]));
  }
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 2; ++j) {
      alignas(32) int32_t lanes[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), sums[i][j]);
      int32_t total = dot(x + i * ld + k, y + j * ld + k, n - k);
      for (int32_t lane : lanes) total += lane;
      acc[i * acc_ld + j] += total;
    }
}

Block4x2 pick_block4x2() {
  return __builtin_cpu_supports("avx2") ? block4x2_avx2 : block4x2_portable;
}
#else
Block4x2 pick_block4x2() { return block4x2_portable; }
#endif

struct Tile {
  int64_t m0, n0;
};

// Stores one epilogue result in out's dtype (validated to be one of four).
void store(const MutableMatrixView& out, int64_t i, int64_t j, const EpilogueParams& e,
           int32_t acc) {
  const int64_t at = i * out.row_stride + j * out.col_stride;
  if (out.dtype == DType::kInt32) {
    static_cast<int32_t*>(out.data)[at] = e.corrected(acc, i, j);
  } else {
    store_float(out.dtype, out.data, at, e.apply(acc, i, j));
  }
}

void compute_tile(const int8_t* x, const int8_t* y, int64_t m, int64_t n, int64_t k, Tile t,
                  const EpilogueParams& e, const MutableMatrixView& out) {
  static const Block4x2 block4x2 = pick_block4x2();
  const int64_t mb = std::min(kBlockM, m - t.m0), nb = std::min(kBlockN, n - t.n0);
  int32_t acc[kBlockM][kBlockN] = {};
  for (int64_t k0 = 0; k0 < k; k0 += kBlockK) {
    const int64_t kb = std::min(kBlockK, k - k0);
    const int8_t* xs = x + t.m0 * k + k0;
    const int8_t* ys = y + t.n0 * k + k0;
    for (int64_t i = 0; i < mb; i += 4) {
      for (int64_t j = 0; j < nb; j += 2) {
        if (i + 4 <= mb && j + 2 <= nb) {
          block4x2(xs + i * k, ys + j * k, k, kb, &acc[i][j], kBlockN);
          continue;
        }
        for (int64_t ii = i; ii < std::min(i + 4, mb); ++ii)
          for (int64_t jj = j; jj < std::min(j + 2, nb); ++jj)
            acc[ii][jj] += dot(xs + ii * k, ys + jj * k, kb);
      }
    }
  }
  for (int64_t i = 0; i < mb; ++i)
    for (int64_t j = 0; j < nb; ++j) store(out, t.m0 + i, t.n0 + j, e, acc[i][j]);
}

const float* float_bias(const VectorView& bias, std::vector<float>& storage) {
  if (!bias.present() || bias.dtype == DType::kFloat32) return static_cast<const float*>(bias.data);
  storage.resize(static_cast<size_t>(bias.size));
  for (int64_t i = 0; i < bias.size; ++i) storage[i] = load_float(bias.dtype, bias.data, i);
  return storage.data();
}

int thread_count(int requested, int64_t tiles, int64_t m, int64_t n, int64_t k) {
  int threads = requested;
  if (threads <= 0) {
    const char* env = std::getenv("GEMM_INT8_CPU_THREADS");
    threads = env ? std::atoi(env) : 0;
  }
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // Below ~1M multiply-adds a thread costs more to start than it saves.
  const int64_t work_cap = std::max<int64_t>(1, m * n * std::max<int64_t>(k, 1) / (1 << 20));
  return static_cast<int>(std::min<int64_t>({threads, tiles, work_cap}));
}

}  // namespace

Status matmul_cpu(const GemmProblem& p, int num_threads) try {
  GEMM_INT8_RETURN_IF_ERROR(validate(p));
  if (p.x.device.kind != Device::Kind::kHost)
    return Status::value_error("x: matmul_cpu needs host memory");
  const int64_t m = p.m(), n = p.n(), k = p.k();
  if (m == 0 || n == 0) return {};
  // A 16-bit bias is widened once (exactly) so the arithmetic sees float32.
  std::vector<float> bias_storage;
  const float* bias = float_bias(p.epilogue.bias, bias_storage);
  const EpilogueParams e = epilogue_params(p.epilogue, bias);

  std::vector<int8_t> x_storage, y_storage;
  const int8_t* x = packed_rows(p.x, x_storage);
  const int8_t* y = packed_rows(p.y, y_storage);

  const int64_t m_tiles = (m + kBlockM - 1) / kBlockM, n_tiles = (n + kBlockN - 1) / kBlockN;
  const int64_t tiles = m_tiles * n_tiles;
  std::atomic<int64_t> next{0};
  auto worker = [&] {
    for (int64_t t = next++; t < tiles; t = next++)
      compute_tile(x, y, m, n, k, {(t / n_tiles) * kBlockM, (t % n_tiles) * kBlockN}, e, p.out);
  };
  const int threads = thread_count(num_threads, tiles, m, n, k);
  std::vector<std::thread> pool;
  try {
    for (int i = 1; i < threads; ++i) pool.emplace_back(worker);
  } catch (const std::system_error&) {
    // Fewer threads than asked for: the ones we have finish the work.
  }
  worker();
  for (auto& th : pool) th.join();
  return {};
} catch (const std::bad_alloc&) {
  return Status::out_of_memory("matmul_cpu: not enough host memory to pack the operands");
}

}  // namespace gemm_int8
