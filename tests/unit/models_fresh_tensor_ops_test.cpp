// ResNet blocks apply SiLU and the residual addition in place when no gradient is recorded
// (fresh_tensor_ops.h). Inference must give exactly what the recorded path gives, leave the
// caller's input alone, and training must still get gradients.
#include <gtest/gtest.h>

#include "models/unet_blocks.h"
#include "models/vae_blocks.h"

namespace dd::models {
namespace {

template <class Forward>
void expect_same_both_ways(const torch::Tensor& x, Forward forward) {
  const auto input = x.clone();
  torch::Tensor recorded;
  {
    const torch::AutoGradMode with_grad(true);
    recorded = forward(x.clone().requires_grad_(true));
    recorded.sum().backward();  // the out-of-place path autograd can follow
  }
  torch::Tensor in_place;
  {
    const torch::NoGradGuard no_grad;
    in_place = forward(x);
  }
  EXPECT_TRUE(torch::equal(in_place, recorded.detach()));
  EXPECT_TRUE(torch::equal(x, input)) << "the block changed its input";
}

TEST(FreshTensorOps, UNetResnetBlockGivesTheSameInPlace) {
  torch::manual_seed(3);
  for (const int out_channels : {16, 32}) {  // with and without the 1x1 shortcut
    ResnetBlock block(16, out_channels, 24, 8, 1e-5);
    const auto emb = torch::randn({2, 24});
    expect_same_both_ways(torch::randn({2, 16, 8, 8}),
                          [&](const torch::Tensor& x) { return block->forward(x, emb); });
  }
}

TEST(FreshTensorOps, VaeResnetBlockGivesTheSameInPlace) {
  torch::manual_seed(4);
  for (const int out_channels : {16, 32}) {
    VaeResnetBlock block(16, out_channels, VaeNorm{8, 1e-6});
    expect_same_both_ways(torch::randn({1, 16, 8, 8}),
                          [&](const torch::Tensor& x) { return block->forward(x); });
  }
}

}  // namespace
}  // namespace dd::models
