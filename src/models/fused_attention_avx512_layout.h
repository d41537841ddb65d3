#pragma once
// What the two AVX-512 translation units of fused attention share (fused_attention_avx512.cpp:
// the register tiles; fused_attention_avx512_pack.cpp: the data layout, packing and the
// caller's tensors): included by those two files only, since everything here is compiled with
// AVX-512 flags (see fused_attention_kernel.h). Plain C++ on 32-bit "units" (see
// fused_attention_avx512.cpp), no intrinsics.
#include <cstdint>

#include "models/fused_attention_kernel.h"

namespace dd::models::fused_detail::avx512 {

constexpr int64_t kLanes = 16;
constexpr int64_t kRows = 4;  // query rows of one register tile

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

struct Layout {
  bool bf16;
  int64_t per_unit;  // elements per 32-bit unit: 2 for bf16, 1 for float
  int64_t element_bytes;
  int64_t qk_units;  // units of one q or k row (bf16 rows of odd length end in a zero)
  int64_t width;     // floats of one output row: v_dim rounded up to 16
  int64_t key_blocks;
  int64_t block_key_units;   // key units of one key block
  int64_t k_units, v_units;  // packed sizes
};

Layout layout_of(const Problem& p);

// One thread's working set for a block of queries.
struct Scratch {
  uint32_t* q;  // [kQueryBlock][qk_units]
  float* s;     // [kRows][kKeyBlock] scores of the register tile in hand
  uint32_t* p;  // [kRows][block_key_units] its probabilities
  float* o;     // [kQueryBlock][width] unnormalised outputs
  float* max;   // [kQueryBlock] running maximum of the base-2 exponents
  float* sum;   // [kQueryBlock] running sum of the probabilities
};

// Carves one thread's scratch space (avx512_scratch_bytes) into its arrays.
Scratch scratch_of(const Layout& l, void* base);

// Query rows [first, first + kQueryBlock) of matrix m into q as units; rows past the end of the
// queries are zero (their scores are computed and never written out).
void load_queries(const Problem& p, const Layout& l, int64_t m, int64_t first, uint32_t* q);

// The first `valid` rows of s.o, each divided by its sum, into matrix m's output rows from
// `first` (rounded to bf16 as LibTorch rounds, for bf16 outputs).
void write_outputs(const Problem& p, const Layout& l, int64_t m, int64_t first, int64_t valid,
                   const Scratch& s);

}  // namespace dd::models::fused_detail::avx512
