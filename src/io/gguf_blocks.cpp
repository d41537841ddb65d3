#include "io/gguf_blocks.h"

#include <ATen/Parallel.h>

#include <cstring>
#include <type_traits>

#include "util/error.h"

namespace dd::io {

namespace {

constexpr int64_t QK = 32;     // elements in a Q4_0 .. Q8_0 block
constexpr int64_t QK_K = 256;  // elements in a K-quant super-block

// Every type ggml defines, with its block; `expandable` marks those dequantize() reads.
constexpr GgmlBlock kBlocks[] = {
    {GgmlType::F32, "F32", 1, 4, true},
    {GgmlType::F16, "F16", 1, 2, true},
    {GgmlType::Q4_0, "Q4_0", QK, 18, true},
    {GgmlType::Q4_1, "Q4_1", QK, 20, true},
    {GgmlType::Q5_0, "Q5_0", QK, 22, true},
    {GgmlType::Q5_1, "Q5_1", QK, 24, true},
    {GgmlType::Q8_0, "Q8_0", QK, 34, true},
    {GgmlType::Q8_1, "Q8_1", QK, 36, false},
    {GgmlType::Q2_K, "Q2_K", QK_K, 84, false},
    {GgmlType::Q3_K, "Q3_K", QK_K, 110, false},
    {GgmlType::Q4_K, "Q4_K", QK_K, 144, true},
    {GgmlType::Q5_K, "Q5_K", QK_K, 176, true},
    {GgmlType::Q6_K, "Q6_K", QK_K, 210, true},
    {GgmlType::Q8_K, "Q8_K", QK_K, 292, false},
    {GgmlType::IQ2_XXS, "IQ2_XXS", QK_K, 66, false},
    {GgmlType::IQ2_XS, "IQ2_XS", QK_K, 74, false},
    {GgmlType::IQ3_XXS, "IQ3_XXS", QK_K, 98, false},
    {GgmlType::IQ1_S, "IQ1_S", QK_K, 50, false},
    {GgmlType::IQ4_NL, "IQ4_NL", QK, 18, false},
    {GgmlType::IQ3_S, "IQ3_S", QK_K, 110, false},
    {GgmlType::IQ2_S, "IQ2_S", QK_K, 82, false},
    {GgmlType::IQ4_XS, "IQ4_XS", QK_K, 136, false},
    {GgmlType::I8, "I8", 1, 1, false},
    {GgmlType::I16, "I16", 1, 2, false},
    {GgmlType::I32, "I32", 1, 4, false},
    {GgmlType::I64, "I64", 1, 8, false},
    {GgmlType::F64, "F64", 1, 8, false},
    {GgmlType::IQ1_M, "IQ1_M", QK_K, 56, false},
    {GgmlType::BF16, "BF16", 1, 2, true},
    {GgmlType::TQ1_0, "TQ1_0", QK_K, 54, false},
    {GgmlType::TQ2_0, "TQ2_0", QK_K, 66, false},
    {GgmlType::MXFP4, "MXFP4", QK, 17, false},
    {GgmlType::NVFP4, "NVFP4", 64, 36, false},
    {GgmlType::Q1_0, "Q1_0", 128, 18, false},
};

float half_at(const uint8_t* p) {
  uint16_t bits;
  std::memcpy(&bits, p, 2);
  return c10::detail::fp16_ieee_to_fp32_value(bits);
}

// --- One block to floats, each exactly as ggml's dequantize_row_* computes it. ---

void block_q4_0(const uint8_t* b, float* y) {
  const float d = half_at(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < QK / 2; ++j) {
    y[j] = static_cast<float>((qs[j] & 0x0F) - 8) * d;
    y[j + QK / 2] = static_cast<float>((qs[j] >> 4) - 8) * d;
  }
}

void block_q4_1(const uint8_t* b, float* y) {
  const float d = half_at(b), m = half_at(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < QK / 2; ++j) {
    y[j] = static_cast<float>(qs[j] & 0x0F) * d + m;
    y[j + QK / 2] = static_cast<float>(qs[j] >> 4) * d + m;
  }
}

// Q5_0/Q5_1: the fifth bit of value j is bit j of the 32 bits qh. A table turns each qh byte
// into the eight values' 0-or-16 high parts at once (no per-value variable shifts).
struct HighBitTable {
  uint8_t parts[256][8];
  constexpr HighBitTable() : parts() {
    for (int byte = 0; byte < 256; ++byte)
      for (int bit = 0; bit < 8; ++bit) parts[byte][bit] = ((byte >> bit) & 1) << 4;
  }
};
constexpr HighBitTable kHighBits;

// The 32 five-bit codes of a Q5_0/Q5_1 block from its qh (4 bytes) and qs (16 bytes).
void five_bit_codes(const uint8_t* qh, const uint8_t* qs, uint8_t* q) {
  for (int k = 0; k < 4; ++k) std::memcpy(q + 8 * k, kHighBits.parts[qh[k]], 8);
  for (int j = 0; j < QK / 2; ++j) {
    q[j] |= qs[j] & 0x0F;
    q[j + QK / 2] |= qs[j] >> 4;
  }
}

void block_q5_0(const uint8_t* b, float* y) {
  const float d = half_at(b);
  uint8_t q[QK];
  five_bit_codes(b + 2, b + 6, q);
  for (int j = 0; j < QK; ++j) y[j] = static_cast<float>(q[j] - 16) * d;
}

void block_q5_1(const uint8_t* b, float* y) {
  const float d = half_at(b), m = half_at(b + 2);
  uint8_t q[QK];
  five_bit_codes(b + 4, b + 8, q);
  for (int j = 0; j < QK; ++j) y[j] = static_cast<float>(q[j]) * d + m;
}

void block_q8_0(const uint8_t* b, float* y) {
  const float d = half_at(b);
  const auto* qs = reinterpret_cast<const int8_t*>(b + 2);
  for (int j = 0; j < QK; ++j) y[j] = static_cast<float>(qs[j]) * d;
}

// The 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes of Q4_K/Q5_K.
void scale_min_k4(int j, const uint8_t* q, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = q[j] & 63;
    *min = q[j + 4] & 63;
  } else {
    *scale = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
    *min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// Q4_K: d, dmin, scales[12], qs[128]. Each 64 values share 32 bytes: low nibbles then high.
void block_q4_k(const uint8_t* b, float* y) {
  const float d = half_at(b), dmin = half_at(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* q = b + 16;
  for (int j = 0, is = 0; j < QK_K; j += 64, is += 2, q += 32) {
    uint8_t sc, m;
    scale_min_k4(is, scales, &sc, &m);
    const float d1 = d * sc, m1 = dmin * m;
    scale_min_k4(is + 1, scales, &sc, &m);
    const float d2 = d * sc, m2 = dmin * m;
    for (int l = 0; l < 32; ++l) y[j + l] = d1 * static_cast<float>(q[l] & 0x0F) - m1;
    for (int l = 0; l < 32; ++l) y[j + 32 + l] = d2 * static_cast<float>(q[l] >> 4) - m2;
  }
}

// Q5_K: d, dmin, scales[12], qh[32], qs[128]; chunk c's fifth bits are bits 2c, 2c+1 of qh.
void block_q5_k(const uint8_t* b, float* y) {
  const float d = half_at(b), dmin = half_at(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* ql = b + 48;
  uint8_t u1 = 1, u2 = 2;
  for (int j = 0, is = 0; j < QK_K; j += 64, is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
    uint8_t sc, m;
    scale_min_k4(is, scales, &sc, &m);
    const float d1 = d * sc, m1 = dmin * m;
    scale_min_k4(is + 1, scales, &sc, &m);
    const float d2 = d * sc, m2 = dmin * m;
    for (int l = 0; l < 32; ++l)
      y[j + l] = d1 * static_cast<float>((ql[l] & 0x0F) + (qh[l] & u1 ? 16 : 0)) - m1;
    for (int l = 0; l < 32; ++l)
      y[j + 32 + l] = d2 * static_cast<float>((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
  }
}

// Q6_K: ql[128], qh[64], int8 scales[16], d. Two halves of 128 values; value 32k + l of a
// half has its low 4 bits in ql[l] (k 0: low nibble, k 2: high) or ql[32 + l] (k 1, 3), its
// top 2 bits at bits 2k of qh[l]. The codes are unpacked first, then scaled 16 at a time as
// ggml does: (d * scale) * (q - 32).
void block_q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
  const float d = half_at(b + 208);
  int8_t q[QK_K];
  for (int n = 0; n < 2; ++n, ql += 64, qh += 32) {
    int8_t* h = q + 128 * n;
    for (int l = 0; l < 32; ++l) {
      h[l] = static_cast<int8_t>(((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) - 32);
      h[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32);
      h[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
      h[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
    }
  }
  for (int g = 0; g < QK_K / 16; ++g) {
    const float scale = d * sc[g];
    for (int k = 0; k < 16; ++k) y[16 * g + k] = scale * static_cast<float>(q[16 * g + k]);
  }
}

// Rounds floats to bf16 as c10::BFloat16 does (nearest even; every NaN to 0x7FC0), without
// branches so that the loop vectorises.
void store(const float* from, c10::BFloat16* to, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, from + i, 4);
    const uint32_t rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16;
    const bool nan = (bits & 0x7FFFFFFF) > 0x7F800000;
    to[i].x = nan ? uint16_t{0x7FC0} : static_cast<uint16_t>(rounded);
  }
}
void store(const float* from, c10::Half* to, int64_t n) {
  for (int64_t i = 0; i < n; ++i) to[i] = static_cast<c10::Half>(from[i]);
}

// Splits the blocks over threads, ~64 K values a task; each block goes through a float buffer
// on the stack (or straight into out for float32) and is rounded once to Out.
template <int64_t kElems, class Out, class DecodeBlock>
void run_blocks(const uint8_t* data, int64_t n, int64_t block_bytes, Out* out, DecodeBlock decode) {
  const int64_t blocks = n / kElems;
  const int64_t grain = std::max<int64_t>(1, 65536 / kElems);
  at::parallel_for(0, blocks, grain, [&](int64_t begin, int64_t end) {
    float buffer[kElems];
    for (int64_t i = begin; i < end; ++i) {
      if constexpr (std::is_same_v<Out, float>) {
        decode(data + i * block_bytes, out + i * kElems);  // straight into the output
      } else {
        decode(data + i * block_bytes, buffer);
        store(buffer, out + i * kElems, kElems);
      }
    }
  });
}

template <class Out>
constexpr torch::ScalarType scalar_type_of() {
  if constexpr (std::is_same_v<Out, float>) return torch::kFloat32;
  if constexpr (std::is_same_v<Out, c10::BFloat16>) return torch::kBFloat16;
  return torch::kHalf;
}

// Plain types: LibTorch's own conversion (vectorised, parallel) between views of the buffers.
template <class Out>
void convert_plain(const uint8_t* data, int64_t n, torch::ScalarType from, Out* out) {
  const auto source = torch::from_blob(const_cast<uint8_t*>(data), {n}, torch::dtype(from));
  torch::from_blob(out, {n}, torch::dtype(scalar_type_of<Out>())).copy_(source);
}

template <class Out>
void dequantize_any(GgmlType type, const uint8_t* data, int64_t n, Out* out) {
  const GgmlBlock& block = ggml_block(type);
  if (!block.expandable)
    throw Error("GGUF tensors of type " + std::string(block.name) + " cannot be expanded yet");
  ggml_bytes(type, n);  // checks n is a whole number of blocks
  const int64_t bytes = block.bytes;
  switch (type) {
    case GgmlType::F32:
      return convert_plain(data, n, torch::kFloat32, out);
    case GgmlType::F16:
      return convert_plain(data, n, torch::kHalf, out);
    case GgmlType::BF16:
      return convert_plain(data, n, torch::kBFloat16, out);
    case GgmlType::Q4_0:
      return run_blocks<QK>(data, n, bytes, out, block_q4_0);
    case GgmlType::Q4_1:
      return run_blocks<QK>(data, n, bytes, out, block_q4_1);
    case GgmlType::Q5_0:
      return run_blocks<QK>(data, n, bytes, out, block_q5_0);
    case GgmlType::Q5_1:
      return run_blocks<QK>(data, n, bytes, out, block_q5_1);
    case GgmlType::Q8_0:
      return run_blocks<QK>(data, n, bytes, out, block_q8_0);
    case GgmlType::Q4_K:
      return run_blocks<QK_K>(data, n, bytes, out, block_q4_k);
    case GgmlType::Q5_K:
      return run_blocks<QK_K>(data, n, bytes, out, block_q5_k);
    case GgmlType::Q6_K:
      return run_blocks<QK_K>(data, n, bytes, out, block_q6_k);
    default:
      break;
  }
  throw Error("GGUF tensors of type " + std::string(block.name) + " cannot be expanded yet");
}

}  // namespace

std::optional<GgmlBlock> ggml_block(uint32_t type_id) {
  for (const auto& block : kBlocks)
    if (static_cast<uint32_t>(block.type) == type_id) return block;
  return std::nullopt;
}

const GgmlBlock& ggml_block(GgmlType type) {
  for (const auto& block : kBlocks)
    if (block.type == type) return block;
  throw Error("unknown ggml type id " + std::to_string(static_cast<uint32_t>(type)));
}

std::string ggml_type_name(GgmlType type) { return ggml_block(type).name; }

int64_t ggml_bytes(GgmlType type, int64_t n) {
  const GgmlBlock& block = ggml_block(type);
  if (n < 0 || n % block.elements != 0)
    throw Error(std::to_string(n) + " values are not a whole number of " + block.name +
                " blocks of " + std::to_string(block.elements));
  return n / block.elements * block.bytes;
}

void dequantize(GgmlType type, const uint8_t* data, int64_t n, float* out) {
  dequantize_any(type, data, n, out);
}
void dequantize(GgmlType type, const uint8_t* data, int64_t n, c10::BFloat16* out) {
  dequantize_any(type, data, n, out);
}
void dequantize(GgmlType type, const uint8_t* data, int64_t n, c10::Half* out) {
  dequantize_any(type, data, n, out);
}

torch::Tensor dequantize_tensor(GgmlType type, const uint8_t* data,
                                const std::vector<int64_t>& shape, torch::ScalarType dtype) {
  const bool direct =
      dtype == torch::kFloat32 || dtype == torch::kBFloat16 || dtype == torch::kHalf;
  torch::Tensor out =
      torch::empty(shape, torch::TensorOptions().dtype(direct ? dtype : torch::kFloat32));
  const int64_t n = out.numel();
  if (out.scalar_type() == torch::kFloat32)
    dequantize(type, data, n, out.data_ptr<float>());
  else if (out.scalar_type() == torch::kBFloat16)
    dequantize(type, data, n, out.data_ptr<c10::BFloat16>());
  else
    dequantize(type, data, n, out.data_ptr<c10::Half>());
  return direct ? out : out.to(dtype);
}

}  // namespace dd::io
