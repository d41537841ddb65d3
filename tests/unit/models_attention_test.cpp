// Large attention, fused or (the reference path) in query slices, must equal the plain computation.
#include <gtest/gtest.h>

#include "io/fixtures.h"
#include "models/attention.h"
#include "models/fused_attention.h"

namespace dd::models {
namespace {

TEST(Attention, SlicedLargeAttentionEqualsThePlainOne) {
  torch::NoGradGuard no_grad;
  auto generator = at::detail::createCPUGenerator(11);
  // 8200 x 8200 scores: above the reference's slicing threshold.
  const auto q = torch::randn({1, 1, 8200, 4}, generator);
  const auto k = torch::randn({1, 1, 8200, 4}, generator);
  const auto v = torch::randn({1, 1, 8200, 4}, generator);
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
  auto generator = at::detail::createCPUGenerator(12);
  const auto q = torch::randn({2, 3, 200, 8}, generator);
  const auto k = torch::randn({2, 3, 150, 8}, generator);
  const auto v = torch::randn({2, 3, 150, 8}, generator);
  ASSERT_TRUE(fused_attention_supports(q, k, v, 0.35));
  {
    const UnfusedAttentionScope unfused;
    EXPECT_TRUE(torch::equal(attention(q, k, v, 0.35), reference_attention(q, k, v, 0.35)));
  }
  EXPECT_TRUE(torch::equal(attention(q, k, v, 0.35), fused_attention(q, k, v, 0.35)));
}

}  // namespace
}  // namespace dd::models
