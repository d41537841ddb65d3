// The data side of the fused attention kernel's AVX-512 path: the packed layouts of keys and
// values (see fused_attention_avx512.cpp), each thread's scratch space, and reading and writing
// the caller's tensors. Built with the same AVX-512 flags as the kernel (see CMakeLists.txt) and
// called only on CPUs that have them; it includes nothing but the plain interface headers.
#include <cstdint>

#include "models/fused_attention_avx512_layout.h"
#include "models/fused_attention_kernel.h"

#if !defined(__AVX512F__)
#error "build with the AVX-512 flags of fused_attention_avx512.cpp (see CMakeLists.txt)"
#endif

namespace dd::models::fused_detail {

namespace avx512 {

Layout layout_of(const Problem& p) {
  Layout l;
  l.bf16 = p.element == Element::kBFloat16;
  l.per_unit = l.bf16 ? 2 : 1;
  l.element_bytes = l.bf16 ? 2 : 4;
  l.qk_units = ceil_div(p.qk_dim, l.per_unit);
  l.width = ceil_div(p.v_dim, kLanes) * kLanes;
  l.key_blocks = ceil_div(p.keys, kKeyBlock);
  l.block_key_units = kKeyBlock / l.per_unit;
  l.k_units = l.key_blocks * kKeyBlock * l.qk_units;
  l.v_units = l.key_blocks * l.block_key_units * l.width;
  return l;
}

namespace {

// Sizes in 4-byte words, each rounded up to a cache line so every array starts aligned.
int64_t line_words(int64_t words) { return ceil_div(words, kLanes) * kLanes; }

int64_t scratch_words(const Layout& l) {
  return line_words(kQueryBlock * l.qk_units) + kRows * kKeyBlock + kRows * l.block_key_units +
         kQueryBlock * l.width + 2 * kQueryBlock;
}

const void* row_of(const Operand& a, const Layout& l, int64_t m, int64_t row) {
  return static_cast<const char*>(a.data) + (a.offsets[m] + row * a.row_stride) * l.element_bytes;
}

// The raw bits of element i of a row: a float's 32 or a bf16's 16.
uint32_t element_bits(const void* row, int64_t i, bool bf16) {
  if (bf16) return static_cast<const uint16_t*>(row)[i];
  uint32_t bits;
  __builtin_memcpy(&bits, static_cast<const float*>(row) + i, sizeof bits);
  return bits;
}

// Unit u of a row of `length` elements; the missing half of a trailing bf16 pair is zero.
uint32_t row_unit(const void* row, int64_t u, int64_t length, const Layout& l) {
  if (!l.bf16) return element_bits(row, u, false);
  const uint32_t high = 2 * u + 1 < length ? element_bits(row, 2 * u + 1, true) : 0;
  return element_bits(row, 2 * u, true) | high << 16;
}

void pack_keys(const Problem& p, const Layout& l, int64_t m, uint32_t* out) {
  for (int64_t j = 0; j < l.key_blocks * kKeyBlock; ++j) {
    uint32_t* lane = out + j / kLanes * l.qk_units * kLanes + j % kLanes;
    const void* row = j < p.keys ? row_of(p.k, l, m, j) : nullptr;
    for (int64_t u = 0; u < l.qk_units; ++u)
      lane[u * kLanes] = row ? row_unit(row, u, p.qk_dim, l) : 0;
  }
}

void pack_values(const Problem& p, const Layout& l, int64_t m, uint32_t* out) {
  for (int64_t unit = 0; unit < l.key_blocks * l.block_key_units; ++unit) {
    uint32_t* dst = out + unit * l.width;
    for (int64_t c = 0; c < l.width; ++c) dst[c] = 0;
    for (int64_t e = 0; e < l.per_unit && unit * l.per_unit + e < p.keys; ++e) {
      const void* row = row_of(p.v, l, m, unit * l.per_unit + e);
      for (int64_t c = 0; c < p.v_dim; ++c) dst[c] |= element_bits(row, c, l.bf16) << (16 * e);
    }
  }
}

// Round to nearest even, as LibTorch converts; NaN stays a (quiet) NaN.
uint16_t bf16_bits(float x) {
  uint32_t bits;
  __builtin_memcpy(&bits, &x, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>(bits >> 16 | 0x40);
  bits += 0x7fffu + (bits >> 16 & 1);
  return static_cast<uint16_t>(bits >> 16);
}

}  // namespace

void load_queries(const Problem& p, const Layout& l, int64_t m, int64_t first, uint32_t* q) {
  for (int64_t r = 0; r < kQueryBlock; ++r) {
    uint32_t* dst = q + r * l.qk_units;
    const void* row = first + r < p.queries ? row_of(p.q, l, m, first + r) : nullptr;
    for (int64_t u = 0; u < l.qk_units; ++u) dst[u] = row ? row_unit(row, u, p.qk_dim, l) : 0;
  }
}

void write_outputs(const Problem& p, const Layout& l, int64_t m, int64_t first, int64_t valid,
                   const Scratch& s) {
  for (int64_t r = 0; r < valid; ++r) {
    void* row = const_cast<void*>(row_of(p.out, l, m, first + r));
    const float* o = s.o + r * l.width;
    const float inverse = 1.0f / s.sum[r];
    for (int64_t c = 0; c < p.v_dim; ++c) {
      if (l.bf16)
        static_cast<uint16_t*>(row)[c] = bf16_bits(o[c] * inverse);
      else
        static_cast<float*>(row)[c] = o[c] * inverse;
    }
  }
}

Scratch scratch_of(const Layout& l, void* base) {
  auto* words = static_cast<uint32_t*>(base);
  Scratch s;
  s.q = words;
  words += line_words(kQueryBlock * l.qk_units);
  s.s = reinterpret_cast<float*>(words);
  words += kRows * kKeyBlock;
  s.p = words;
  words += kRows * l.block_key_units;
  s.o = reinterpret_cast<float*>(words);
  words += kQueryBlock * l.width;
  s.max = reinterpret_cast<float*>(words);
  words += kQueryBlock;
  s.sum = reinterpret_cast<float*>(words);
  return s;
}

}  // namespace avx512

using namespace avx512;

int64_t avx512_packed_bytes(const Problem& p) {
  const Layout l = layout_of(p);
  return (l.k_units + l.v_units) * 4;
}

int64_t avx512_scratch_bytes(const Problem& p) { return scratch_words(layout_of(p)) * 4; }

void avx512_pack(const Problem& p, int64_t m, void* packed) {
  const Layout l = layout_of(p);
  auto* words = static_cast<uint32_t*>(packed);
  pack_keys(p, l, m, words);
  pack_values(p, l, m, words + l.k_units);
}

}  // namespace dd::models::fused_detail
