// Large attention, fused or (the reference path) in query slices, must equal the plain computation.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace dd::models
