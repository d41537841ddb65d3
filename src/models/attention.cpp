#include "models/attention.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "models/fused_attention.h"

namespace dd::models {

namespace {

// Score matrices above this many elements are computed a slice of queries at a time: 16 MiB of
// fp32 scores stay under glibc's largest mmap threshold (see cli/runtime_tuning.cpp), so every
// slice reuses warm heap pages instead of faulting in fresh ones, and a 1024x1024 image never
// materialises gigabytes of scores. Each query row's softmax is independent, so slicing does not
// change the result. (Measured on the tiny SDXL model at 1024x1024: 64 Mi elements 12.2 s per
// guided step, 4 Mi 7.2 s.)
constexpr int64_t kMaxScoreElements = int64_t(4) << 20;

std::atomic<int> g_unfused_scopes{0};

// From this head dimension on, float32 attention on the CPU runs LibTorch's
// scaled_dot_product_attention: attention_bench measured it 1-10% faster than the fused kernel on
// the VAE mid-block's single 512-wide head (4096 tokens; 0.181 against 0.183-0.199 s), while the
// fused kernel is 1.2-1.5x faster on every UNet shape (d <= 160) and 1.9-2.9x in bf16.
constexpr int64_t kSdpaMinFloat32HeadDim = 256;

torch::Tensor sdpa(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                   double scale) {
  return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0,
                                          /*is_causal=*/false, scale);
}

torch::Tensor attention_block(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, double scale) {
  // matmul + scale rather than baddbmm: LibTorch 1.13's baddbmm read its (uninitialised) input
  // even with beta = 0 and could turn the scores into NaN (DESIGN.md, traps).
  const auto scores = torch::matmul(q, k.transpose(-2, -1)) * scale;
  const auto probs = torch::softmax(scores, -1, torch::kFloat32).to(q.scalar_type());
  return torch::matmul(probs, v);
}

}  // namespace

const char* cpu_attention_choice(const torch::Tensor& q, const torch::Tensor& k,
                                 const torch::Tensor& v, double scale) {
  if (g_unfused_scopes.load() != 0 || !fused_attention_supports(q, k, v, scale)) return "reference";
  const bool wide_float32 =
      q.scalar_type() == torch::kFloat32 && q.size(-1) >= kSdpaMinFloat32HeadDim;
  return wide_float32 ? "sdpa" : "fused";
}

torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        double scale) {
  if (!q.device().is_cpu()) return sdpa(q, k, v, scale);
  const char* choice = cpu_attention_choice(q, k, v, scale);
  if (std::strcmp(choice, "fused") == 0) return fused_attention(q, k, v, scale);
  if (std::strcmp(choice, "sdpa") == 0) return sdpa(q, k, v, scale);
  return reference_attention(q, k, v, scale);
}

UnfusedAttentionScope::UnfusedAttentionScope() { ++g_unfused_scopes; }
UnfusedAttentionScope::~UnfusedAttentionScope() { --g_unfused_scopes; }

torch::Tensor reference_attention(const torch::Tensor& q, const torch::Tensor& k,
                                  const torch::Tensor& v, double scale) {
  const int64_t queries = q.size(-2);
  const int64_t rows_of_scores = q.numel() / q.size(-1);  // batch * heads * queries
  const int64_t elements = rows_of_scores * k.size(-2);
  if (elements <= kMaxScoreElements) return attention_block(q, k, v, scale);
  const int64_t per_query = elements / queries;
  const int64_t slice = std::max<int64_t>(1, kMaxScoreElements / per_query);
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < queries; start += slice)
    parts.push_back(
        attention_block(q.narrow(-2, start, std::min(slice, queries - start)), k, v, scale));
  return torch::cat(parts, -2);
}

}  // namespace dd::models
