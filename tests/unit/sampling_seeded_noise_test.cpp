// SeededNoise draws what torch.randn with a seeded CPU generator draws (as diffusers does).
#include <gtest/gtest.h>

#include "sampling/seeded_noise.h"

namespace dd::sampling {
namespace {

TEST(SeededNoise, MatchesTorchManualSeed) {
  // torch.manual_seed(0); torch.randn(3) in Python.
  SeededNoise noise({0});
  const torch::Tensor draw = noise.next({3});
  const torch::Tensor expected = torch::tensor({1.5410f, -0.2934f, -2.1788f});
  EXPECT_TRUE(torch::allclose(draw, expected, 0, 1e-4)) << draw;
}

TEST(SeededNoise, PerImageGeneratorsDrawRowByRow) {
  SeededNoise pair({7, 8});
  const torch::Tensor both = pair.next({2, 4, 3, 3});
  SeededNoise first({7});
  SeededNoise second({8});
  EXPECT_TRUE(torch::equal(both[0], first.next({1, 4, 3, 3})[0]));
  EXPECT_TRUE(torch::equal(both[1], second.next({1, 4, 3, 3})[0]));
  // Later draws continue each generator's stream.
  EXPECT_TRUE(torch::equal(pair.next({2, 4})[1], second.next({1, 4})[0]));
  EXPECT_THROW(pair.next({3, 4}), Error);
}

}  // namespace
}  // namespace dd::sampling
