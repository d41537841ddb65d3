#pragma once
// The interface between fused_attention.cpp and its AVX-512 kernel (fused_attention_avx512.cpp).
// Deliberately free of LibTorch and of standard-library templates: the kernel's translation unit
// is compiled with AVX-512 flags, and any inline function it instantiated from a shared header
// could be the copy the linker keeps for the whole program, crashing on a CPU without AVX-512.
#include <cstdint>

namespace dd::models::fused_detail {

// Queries handled by one work item, and keys per step of the online softmax. 64 x 128 fp32
// scores are 32 KiB: with the query tile, the probabilities and the output accumulators they stay
// in L1/L2 while a key block streams past.
constexpr int64_t kQueryBlock = 64;
constexpr int64_t kKeyBlock = 128;

// Softmax scales above this are refused (no model comes near): the kernel masks missing keys with
// a large finite score whose scaled value must stay finite.
constexpr double kMaxScale = 1e6;

enum class Element { kFloat32, kBFloat16 };

// A batch of matrices [rows, cols] with unit stride along cols; matrix m starts at element
// offsets[m] of data.
struct Operand {
  const void* data;
  const int64_t* offsets;
  int64_t row_stride;
};

// `count` independent problems softmax(q k^T * scale) v, all of the same shape.
struct Problem {
  Element element;
  int64_t count;
  int64_t queries, keys, qk_dim, v_dim;
  float scale;
  Operand q, k, v;
  Operand out;  // written through a const_cast: Operand describes memory, not ownership
};

// Bytes of one matrix's packed keys and values, and of one thread's scratch space.
int64_t avx512_packed_bytes(const Problem& p);
int64_t avx512_scratch_bytes(const Problem& p);

// Lays out matrix m's keys and values for the kernel (see the .cpp for the layouts).
void avx512_pack(const Problem& p, int64_t m, void* packed);

// Output rows [block * kQueryBlock, ...) of matrix m, from its packed keys and values.
void avx512_attend(const Problem& p, int64_t m, int64_t block, const void* packed, void* scratch);

}  // namespace dd::models::fused_detail
