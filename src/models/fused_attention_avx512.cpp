// The AVX-512 kernel of fused attention (see fused_attention.h): its register tiles and the
// online softmax; the data layout and packing are fused_attention_avx512_pack.cpp. These two
// translation units alone are compiled with -mfma -mavx512f -mavx512bw -mavx512vl -mavx512bf16;
// fused_attention.cpp calls them only on CPUs that have them. They include nothing but intrinsics
// and the plain interface headers, so that no inline function compiled with AVX-512 can leak into
// the rest of the program (see fused_attention_kernel.h).
//
// Both element types share one shape of computation over 32-bit "units": a unit is one float, or
// a pair of bf16 that _mm512_dpbf16_ps multiplies and adds into one float lane. Scores are
// q k^T (units along the head dimension), outputs p v (units along the keys), so
//   keys   are packed [key vector of 16][qk unit][16 lanes]: a load gives 16 keys' unit u;
//   values are packed [key unit][v_dim padded to 16][lane]:   a load gives 16 columns' unit;
// and the other operand (queries, probabilities) is broadcast one unit at a time.
// GCC 12's AVX-512 headers initialise their "undefined" vectors from themselves, which
// -Wmaybe-uninitialized reports wherever they are inlined (GCC bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdint>

#include "models/fused_attention_avx512_layout.h"
#include "models/fused_attention_kernel.h"

#if !defined(__FMA__) || !defined(__AVX512F__) || !defined(__AVX512BW__) || \
    !defined(__AVX512VL__) || !defined(__AVX512BF16__)
#error "build with -mfma -mavx512f -mavx512bw -mavx512vl -mavx512bf16 (see CMakeLists.txt)"
#endif

namespace dd::models::fused_detail {

namespace avx512 {
namespace {

constexpr int64_t kKeyVectors = 4;    // 16-key vectors of one score tile (16 accumulators)
constexpr int64_t kValueVectors = 4;  // 16-column vectors of one output tile at most
constexpr float kLog2e = 1.4426950408889634f;

// --- the register tiles -------------------------------------------------------------------------

// acc + a * b per lane: one float, or a bf16 pair's dot product accumulated in float.
template <bool kBf16>
inline __m512 madd(__m512 acc, __m512i a, __m512i b) {
  if constexpr (kBf16)
    return _mm512_dpbf16_ps(acc, reinterpret_cast<__m512bh>(a), reinterpret_cast<__m512bh>(b));
  else
    return _mm512_fmadd_ps(_mm512_castsi512_ps(a), _mm512_castsi512_ps(b), acc);
}

// Scores of kRows queries against kKeyVectors * 16 keys, into s (row stride kKeyBlock).
template <bool kBf16>
void score_tile(const uint32_t* q, int64_t units, const uint32_t* k, float* s) {
  __m512 acc[kRows][kKeyVectors];
#pragma GCC unroll 16
  for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 16
    for (int t = 0; t < kKeyVectors; ++t) acc[r][t] = _mm512_setzero_ps();
  for (int64_t u = 0; u < units; ++u) {
    __m512i keys[kKeyVectors];
#pragma GCC unroll 16
    for (int t = 0; t < kKeyVectors; ++t)
      keys[t] = _mm512_loadu_si512(k + (t * units + u) * kLanes);
#pragma GCC unroll 16
    for (int r = 0; r < kRows; ++r) {
      const __m512i query = _mm512_set1_epi32(static_cast<int>(q[r * units + u]));
#pragma GCC unroll 16
      for (int t = 0; t < kKeyVectors; ++t) acc[r][t] = madd<kBf16>(acc[r][t], query, keys[t]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 16
    for (int t = 0; t < kKeyVectors; ++t)
      _mm512_storeu_ps(s + r * kKeyBlock + t * kLanes, acc[r][t]);
}

// The same on 8 lanes, for a row whose last 16 columns are at most half used (d = 40: 2.5
// vectors): a 256-bit instruction costs half a 512-bit one where AVX-512 is split in two halves.
template <bool kBf16>
inline __m256 madd_half(__m256 acc, __m512i a, const uint32_t* b) {
  const __m256i a_half = _mm512_castsi512_si256(a);
  const __m256i b_half = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
  if constexpr (kBf16)
    return _mm256_dpbf16_ps(acc, reinterpret_cast<__m256bh>(a_half),
                            reinterpret_cast<__m256bh>(b_half));
  else
    return _mm256_fmadd_ps(_mm256_castsi256_ps(a_half), _mm256_castsi256_ps(b_half), acc);
}

// o (kRows rows of kVectors * 16 columns, then 8 more if kHalf; row stride `width`) += p v over
// `units` key units.
template <bool kBf16, int kVectors, bool kHalf>
void value_tile(const uint32_t* p, int64_t p_stride, int64_t units, const uint32_t* v,
                int64_t width, float* o) {
  __m512 acc[kRows][kVectors > 0 ? kVectors : 1];
  __m256 half[kRows];
  const int64_t tail = kVectors * kLanes;
#pragma GCC unroll 16
  for (int r = 0; r < kRows; ++r) {
#pragma GCC unroll 16
    for (int c = 0; c < kVectors; ++c) acc[r][c] = _mm512_loadu_ps(o + r * width + c * kLanes);
    if constexpr (kHalf) half[r] = _mm256_loadu_ps(o + r * width + tail);
  }
  for (int64_t u = 0; u < units; ++u) {
    __m512i values[kVectors > 0 ? kVectors : 1];
#pragma GCC unroll 16
    for (int c = 0; c < kVectors; ++c) values[c] = _mm512_loadu_si512(v + u * width + c * kLanes);
#pragma GCC unroll 16
    for (int r = 0; r < kRows; ++r) {
      const __m512i prob = _mm512_set1_epi32(static_cast<int>(p[r * p_stride + u]));
#pragma GCC unroll 16
      for (int c = 0; c < kVectors; ++c) acc[r][c] = madd<kBf16>(acc[r][c], prob, values[c]);
      if constexpr (kHalf) half[r] = madd_half<kBf16>(half[r], prob, v + u * width + tail);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < kRows; ++r) {
#pragma GCC unroll 16
    for (int c = 0; c < kVectors; ++c) _mm512_storeu_ps(o + r * width + c * kLanes, acc[r][c]);
    if constexpr (kHalf) _mm256_storeu_ps(o + r * width + tail, half[r]);
  }
}

// 2^x for finite x <= 0: x = n + f with |f| <= 1/2, 2^f from its Taylor series, times 2^n by
// scalef, which underflows cleanly to 0 for any very negative n. Degree 6 (relative error below
// 2e-7, float's own rounding) for float; degree 4 (4e-5) for bf16, whose probabilities are then
// rounded to 2^-9 anyway. The softmax spends about a quarter of its instructions here.
template <bool kBf16>
inline __m512 exp2_nonpositive(__m512 x) {
  const __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(x, n);
  // ln(2)^i / i!
  __m512 y = _mm512_set1_ps(9.6181291076284772e-3f);
  if constexpr (!kBf16) {
    y = _mm512_set1_ps(1.5403530393381608e-4f);
    y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(1.3333558146428443e-3f));
    y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(9.6181291076284772e-3f));
  }
  y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(5.5504108664821580e-2f));
  y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(2.4022650695910071e-1f));
  y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(6.9314718055994531e-1f));
  y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(y, n);
}

// --- one key block ---------------------------------------------------------------------------

// Scores of the kRows queries at q against one key block, into s (row stride kKeyBlock).
template <bool kBf16>
void tile_scores(const Layout& l, const uint32_t* q, const uint32_t* k, float* s) {
  for (int64_t t = 0; t < kKeyBlock / kLanes; t += kKeyVectors)
    score_tile<kBf16>(q, l.qk_units, k + t * l.qk_units * kLanes, s + t * kLanes);
}

// Keys past the end of the last block must get probability 0, whatever their packed zeros score.
// A finite score rather than -inf: (-inf) - (-inf) would make the exponential's reduction NaN.
// Scaled by at most kMaxScale * log2(e) it stays finite, and 2^(that) is exactly 0.
void mask_keys(int64_t valid_keys, float* s) {
  for (int64_t r = 0; r < kRows; ++r)
    for (int64_t j = valid_keys; j < kKeyBlock; ++j) s[r * kKeyBlock + j] = -1e30f;
}

// 2^(old - new) for the register tile's kRows running maxima at once, into out: 0 on the first
// block (old is -inf, clamped to an exponent that underflows), exactly 1 where the maximum held.
inline void max_corrections(const float* old_max, const float* new_max, float* out) {
  const __mmask16 rows = (1u << kRows) - 1;
  const __m512 exponent =
      _mm512_sub_ps(_mm512_maskz_loadu_ps(rows, old_max), _mm512_maskz_loadu_ps(rows, new_max));
  const __m512 clamped = _mm512_max_ps(exponent, _mm512_set1_ps(-200.0f));
  _mm512_mask_storeu_ps(out, rows, exp2_nonpositive<false>(clamped));
}

// Folds one block of the register tile's scores (query rows r...) into each row's running
// maximum and sum (the online softmax): writes the block's probabilities relative to the new
// maximum and rescales what the row has accumulated so far, so that no whole row of scores is
// ever needed.
template <bool kBf16>
void softmax_tile(const Layout& l, float exponent_scale, int64_t r, const Scratch& s) {
  float new_max[kRows], correction[kRows];
  for (int64_t i = 0; i < kRows; ++i) {
    const float* scores = s.s + i * kKeyBlock;
    __m512 block_max = _mm512_loadu_ps(scores);
    for (int64_t j = kLanes; j < kKeyBlock; j += kLanes)
      block_max = _mm512_max_ps(block_max, _mm512_loadu_ps(scores + j));
    const float candidate = exponent_scale * _mm512_reduce_max_ps(block_max);
    new_max[i] = candidate > s.max[r + i] ? candidate : s.max[r + i];
  }
  max_corrections(s.max + r, new_max, correction);
  const __m512 scale = _mm512_set1_ps(exponent_scale);
  for (int64_t i = 0; i < kRows; ++i) {
    const float* scores = s.s + i * kKeyBlock;
    const __m512 shift = _mm512_set1_ps(new_max[i]);
    __m512 total = _mm512_setzero_ps();
    uint32_t* probs = s.p + i * l.block_key_units;
    for (int64_t j = 0; j < kKeyBlock; j += 2 * kLanes) {
      const __m512 low =
          exp2_nonpositive<kBf16>(_mm512_fmsub_ps(_mm512_loadu_ps(scores + j), scale, shift));
      const __m512 high = exp2_nonpositive<kBf16>(
          _mm512_fmsub_ps(_mm512_loadu_ps(scores + j + kLanes), scale, shift));
      total = _mm512_add_ps(total, _mm512_add_ps(low, high));
      if constexpr (kBf16) {
        _mm512_storeu_si512(probs + j / 2,
                            reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(high, low)));
      } else {
        _mm512_storeu_ps(probs + j, low);
        _mm512_storeu_ps(probs + j + kLanes, high);
      }
    }
    s.sum[r + i] = s.sum[r + i] * correction[i] + _mm512_reduce_add_ps(total);
    s.max[r + i] = new_max[i];
    if (correction[i] == 1.0f) continue;
    float* o = s.o + (r + i) * l.width;
    const __m512 factor = _mm512_set1_ps(correction[i]);
    for (int64_t c = 0; c < l.width; c += kLanes)
      _mm512_storeu_ps(o + c, _mm512_mul_ps(_mm512_loadu_ps(o + c), factor));
  }
}

// The value tile for `columns` (at most 4.5 vectors) output columns starting at column c.
template <bool kBf16>
void value_columns(const Layout& l, const uint32_t* p, const uint32_t* v, int64_t c,
                   int64_t columns, float* o) {
  const int64_t u = l.block_key_units, w = l.width;
  v += c;
  o += c;
  switch ((columns + 7) / 8) {  // half vectors, rounded up
    case 1:
      return value_tile<kBf16, 0, true>(p, u, u, v, w, o);
    case 2:
      return value_tile<kBf16, 1, false>(p, u, u, v, w, o);
    case 3:
      return value_tile<kBf16, 1, true>(p, u, u, v, w, o);
    case 4:
      return value_tile<kBf16, 2, false>(p, u, u, v, w, o);
    case 5:
      return value_tile<kBf16, 2, true>(p, u, u, v, w, o);
    case 6:
      return value_tile<kBf16, 3, false>(p, u, u, v, w, o);
    case 7:
      return value_tile<kBf16, 3, true>(p, u, u, v, w, o);
    case 8:
      return value_tile<kBf16, 4, false>(p, u, u, v, w, o);
    default:
      return value_tile<kBf16, 4, true>(p, u, u, v, w, o);
  }
}

// o (kRows rows) += p v: output columns in groups of 4 vectors; the last group takes the
// remainder, up to 4.5 vectors.
template <bool kBf16>
void tile_values(const Layout& l, int64_t v_dim, const uint32_t* p, const uint32_t* v, float* o) {
  int64_t c = 0;
  for (; v_dim - c > kValueVectors * kLanes + kLanes / 2; c += kValueVectors * kLanes)
    value_columns<kBf16>(l, p, v, c, kValueVectors * kLanes, o);
  value_columns<kBf16>(l, p, v, c, v_dim - c, o);
}

// Key block outermost, so that its packed keys and values stay in L1 while every register tile
// of the query block passes over them; each tile goes through scores, softmax and values at once,
// so its scores and probabilities never leave L1 either.
template <bool kBf16>
void attend_rows(const Problem& p, const Layout& l, int64_t rows, const uint32_t* packed,
                 const Scratch& s) {
  const uint32_t* keys = packed;
  const uint32_t* values = packed + l.k_units;
  const float exponent_scale = p.scale * kLog2e;  // exp(x) = 2^(x log2 e)
  for (int64_t b = 0; b < l.key_blocks; ++b) {
    const uint32_t* block_keys = keys + b * kKeyBlock * l.qk_units;
    const uint32_t* block_values = values + b * l.block_key_units * l.width;
    const int64_t valid_keys = p.keys - b * kKeyBlock;
    for (int64_t r = 0; r < rows; r += kRows) {
      tile_scores<kBf16>(l, s.q + r * l.qk_units, block_keys, s.s);
      if (valid_keys < kKeyBlock) mask_keys(valid_keys, s.s);
      softmax_tile<kBf16>(l, exponent_scale, r, s);
      tile_values<kBf16>(l, p.v_dim, s.p, block_values, s.o + r * l.width);
    }
  }
}

}  // namespace
}  // namespace avx512

using namespace avx512;

void avx512_attend(const Problem& p, int64_t m, int64_t block, const void* packed, void* scratch) {
  const Layout l = layout_of(p);
  const Scratch s = scratch_of(l, scratch);
  const int64_t first = block * kQueryBlock;
  const int64_t valid = p.queries - first < kQueryBlock ? p.queries - first : kQueryBlock;
  const int64_t rows = ceil_div(valid, kRows) * kRows;
  load_queries(p, l, m, first, s.q);
  for (int64_t r = 0; r < rows; ++r) {
    s.max[r] = -__builtin_inff();
    s.sum[r] = 0.0f;
    for (int64_t c = 0; c < l.width; ++c) s.o[r * l.width + c] = 0.0f;
  }
  const auto* words = static_cast<const uint32_t*>(packed);
  if (l.bf16)
    attend_rows<true>(p, l, rows, words, s);
  else
    attend_rows<false>(p, l, rows, words, s);
  write_outputs(p, l, m, first, valid, s);
}

}  // namespace dd::models::fused_detail
