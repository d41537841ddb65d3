// Large attention, fused or (the reference path) in query slices, must equal the plain computation.
#include <gtest/gtest.h>

#include <cmath>

#include "io/fixtures.h"
#include "models/attention.h"
#include "models/fused_attention.h"

namespace dd::models {
namespace {

struct Qkv {
  torch::Tensor q, k, v;
};

// Random queries [batch, heads, queries, d] and keys/values [batch, heads, keys, d].
Qkv random_qkv(uint64_t seed, int64_t batch, int64_t heads, int64_t queries, int64_t keys,
               int64_t d) {
  auto generator = at::detail::createCPUGenerator(seed);
  Qkv x;
  x.q = torch::randn({batch, heads, queries, d}, generator);
  x.k = torch::randn({batch, heads, keys, d}, generator);
  x.v = torch::randn({batch, heads, keys, d}, generator);
  return x;
}

TEST(Attention, SlicedLargeAttentionEqualsThePlainOne) {
  torch::NoGradGuard no_grad;
  // 8200 x 8200 scores: above the reference's slicing threshold.
  const auto [q, k, v] = random_qkv(11, 1, 1, 8200, 8200, 4);
  const double scale = 0.5;
  const auto plain =
      torch::matmul(torch::softmax(torch::matmul(q, k.transpose(-2, -1)) * scale, -1), v);
  EXPECT_LT(io::max_abs_diff(attention(q, k, v, scale), plain), 1e-6);
  EXPECT_LT(io::max_abs_diff(reference_attention(q, k, v, scale), plain), 1e-6);
}

// The bench's before/after switch: inside the scope every call takes the reference path, and
// after it the fused kernel is back.
TEST(Attention, UnfusedScopeSwitchesToTheReferenceAndBack) {
  torch::NoGradGuard no_grad;
  const auto [q, k, v] = random_qkv(12, 2, 3, 200, 150, 8);
  ASSERT_TRUE(fused_attention_supports(q, k, v, 0.35));
  {
    const UnfusedAttentionScope unfused;
    EXPECT_TRUE(torch::equal(attention(q, k, v, 0.35), reference_attention(q, k, v, 0.35)));
  }
  EXPECT_TRUE(torch::equal(attention(q, k, v, 0.35), fused_attention(q, k, v, 0.35)));
}

// The CPU kernel is chosen per shape (attention_bench's measurements): LibTorch's SDPA for wide
// float32 heads (the VAE's 512), the fused kernel for the rest, the reference where neither fits.
TEST(Attention, EachShapeRunsItsFasterKernel) {
  torch::NoGradGuard no_grad;
  const auto wide = random_qkv(13, 1, 1, 300, 300, 512);
  const auto narrow = random_qkv(14, 2, 4, 300, 77, 64);
  const double wide_scale = 1.0 / std::sqrt(512.0), narrow_scale = 0.125;
  EXPECT_STREQ(cpu_attention_choice(wide.q, wide.k, wide.v, wide_scale), "sdpa");
  EXPECT_STREQ(cpu_attention_choice(narrow.q, narrow.k, narrow.v, narrow_scale), "fused");
  const auto wide_bf16 = wide.q.to(torch::kBFloat16);
  EXPECT_STREQ(cpu_attention_choice(wide_bf16, wide.k.to(torch::kBFloat16),
                                    wide.v.to(torch::kBFloat16), wide_scale),
               "fused");
  const auto sdpa =
      at::scaled_dot_product_attention(wide.q, wide.k, wide.v, {}, 0.0, false, wide_scale);
  EXPECT_TRUE(torch::equal(attention(wide.q, wide.k, wide.v, wide_scale), sdpa));
  EXPECT_LT(io::max_abs_diff(sdpa, reference_attention(wide.q, wide.k, wide.v, wide_scale)), 1e-5);
  {
    const UnfusedAttentionScope unfused;
    EXPECT_STREQ(cpu_attention_choice(wide.q, wide.k, wide.v, wide_scale), "reference");
  }
  const auto trained = wide.q.clone().requires_grad_(true);
  torch::AutoGradMode grad(true);
  EXPECT_STREQ(cpu_attention_choice(trained, wide.k, wide.v, wide_scale), "reference");
}

}  // namespace
}  // namespace dd::models
