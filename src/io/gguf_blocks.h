#pragma once
// ggml's tensor types as GGUF files store them: the type ids, the block each type packs its
// values into (elements and bytes a block), and the expansion of blocks to floats. Layouts and
// scales are exactly ggml's (ggml-common.h and ggml-quants.c): fp16 d/dmin scales, 6-bit packed
// K-quant scales and mins, high-bit planes. A FLUX step expands 12 B weights, so expansion runs
// in parallel over blocks.
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>
#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dd::io {

// ggml's type ids (ggml.h); the gaps are ids ggml has retired.
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
  NVFP4 = 40,
  Q1_0 = 41,
};

struct GgmlBlock {
  GgmlType type;
  const char* name;  // as ggml names it: "Q4_K"
  int64_t elements;  // values a block holds (1 for plain types)
  int64_t bytes;     // bytes a block takes
  bool expandable;   // whether dequantize() reads this type
};

// The block of a type id, or nothing for an id ggml does not define (or has retired).
std::optional<GgmlBlock> ggml_block(uint32_t type_id);
// The block of a known type.
const GgmlBlock& ggml_block(GgmlType type);
std::string ggml_type_name(GgmlType type);

// The bytes `n` values of `type` take; a dd::Error when n is not a whole number of blocks.
int64_t ggml_bytes(GgmlType type, int64_t n);

// Expands `n` values (a whole number of blocks) stored as `type` at `data` (ggml_bytes(type, n)
// bytes) into out. bf16 and fp16 outputs are the float values rounded once (to nearest even).
// A type dequantize() does not read is a dd::Error naming it.
void dequantize(GgmlType type, const uint8_t* data, int64_t n, float* out);
void dequantize(GgmlType type, const uint8_t* data, int64_t n, c10::BFloat16* out);
void dequantize(GgmlType type, const uint8_t* data, int64_t n, c10::Half* out);

// A new contiguous CPU tensor of `shape` (torch order) and `dtype` holding the expanded values.
// Float32, bf16 and fp16 are written directly; other dtypes go through float32.
torch::Tensor dequantize_tensor(GgmlType type, const uint8_t* data,
                                const std::vector<int64_t>& shape, torch::ScalarType dtype);

}  // namespace dd::io
