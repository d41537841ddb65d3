// The fused attention kernel against the matmul + softmax reference, on both of its paths.
#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "io/fixtures.h"
#include "models/attention.h"
#include "models/fused_attention.h"

namespace dd::models {
namespace {

struct Shape {
  std::vector<int64_t> lead;
  int64_t queries, keys, dim;
};

// Odd counts on both sides of the 64-query and 128-key tiles, CLIP's 77 keys, the head
// dimensions of SD 1.5 (40, 80, 160) and SD2/SDXL (64), tiny models' small ones, rank 3 and 4.
const std::vector<Shape> kShapes = {
    {{2, 8}, 67, 77, 40}, {{2, 8}, 130, 129, 64}, {{1, 3}, 100, 77, 80}, {{1, 2}, 65, 200, 160},
    {{3}, 13, 300, 8},    {{2}, 1, 1, 16},        {{1, 1}, 64, 128, 33}, {{}, 5, 7, 8},
};

struct Qkv {
  torch::Tensor q, k, v;
};

Qkv random_qkv(const Shape& s, torch::ScalarType type, uint64_t seed) {
  auto generator = at::detail::createCPUGenerator(seed);
  const auto sized = [&s](int64_t rows, int64_t cols) {
    auto sizes = s.lead;
    sizes.push_back(rows);
    sizes.push_back(cols);
    return sizes;
  };
  return {torch::randn(sized(s.queries, s.dim), generator).to(type),
          torch::randn(sized(s.keys, s.dim), generator).to(type),
          torch::randn(sized(s.keys, s.dim), generator).to(type)};
}

// The truth for any dtype: the reference in float32 from the very same (possibly bf16) inputs.
torch::Tensor truth(const Qkv& x, double scale) {
  return reference_attention(x.q.to(torch::kFloat32), x.k.to(torch::kFloat32),
                             x.v.to(torch::kFloat32), scale);
}

double error(const torch::Tensor& a, const torch::Tensor& b) {
  return io::max_abs_diff(a.to(torch::kFloat32), b.to(torch::kFloat32));
}

// float32: every step is float32 on both sides; differences are summation order, ~1e-6 relative.
double fp32_bound(const torch::Tensor& expected) {
  return 1e-5 * std::max(1.0, expected.abs().max().item<double>());
}

// bf16 on unit-scale data: the output's own rounding is at most 2^-9 relative (0.006 at |out| 3)
// and the probabilities' rounding to bf16 (also 2^-9 relative each, as in the reference's bf16
// path) moves a weighted mean of unit values by far less; 1e-2 covers both with margin while a
// wrong tile, mask or rescale gives errors of 0.1 and more.
constexpr double kBf16Bound = 1e-2;

std::vector<FusedAttentionPath> paths() {
  std::vector<FusedAttentionPath> all{FusedAttentionPath::kPortable};
  if (avx512_attention_available()) all.push_back(FusedAttentionPath::kAvx512);
  return all;
}

class FusedAttention : public ::testing::Test {
 protected:
  void SetUp() override { at::set_num_threads(1); }
  torch::NoGradGuard no_grad_;
};

TEST_F(FusedAttention, Float32MatchesTheReference) {
  for (const auto path : paths())
    for (const auto& shape : kShapes) {
      const auto x = random_qkv(shape, torch::kFloat32, 1);
      const double scale = 1.0 / std::sqrt(static_cast<double>(shape.dim));
      const auto expected = truth(x, scale);
      const auto got = fused_attention(x.q, x.k, x.v, scale, path);
      EXPECT_EQ(got.sizes(), expected.sizes());
      EXPECT_LE(error(got, expected), fp32_bound(expected))
          << "path " << static_cast<int>(path) << ", d " << shape.dim << ", keys " << shape.keys;
    }
}

TEST_F(FusedAttention, BFloat16MatchesTheReferenceWithinRounding) {
  for (const auto path : paths())
    for (const auto& shape : kShapes) {
      const auto x = random_qkv(shape, torch::kBFloat16, 2);
      const double scale = 1.0 / std::sqrt(static_cast<double>(shape.dim));
      const auto expected = truth(x, scale);
      const auto got = fused_attention(x.q, x.k, x.v, scale, path);
      EXPECT_EQ(got.scalar_type(), torch::kBFloat16);
      EXPECT_LE(error(got, expected), kBf16Bound)
          << "path " << static_cast<int>(path) << ", d " << shape.dim << ", keys " << shape.keys;
      // No worse than the matmul path in bf16 (with slack: both are at the rounding level).
      const auto old = reference_attention(x.q, x.k, x.v, scale);
      EXPECT_LE(error(got, expected), 1.5 * error(old, expected) + 1e-3);
    }
}

TEST_F(FusedAttention, AcceptsStridedViewsAndKeepsTheQueryLayout) {
  for (const auto type : {torch::kFloat32, torch::kBFloat16}) {
    // As the transformer builds them: [B, N, heads, d] viewed as [B, heads, N, d].
    auto generator = at::detail::createCPUGenerator(3);
    const auto q = torch::randn({2, 70, 8, 40}, generator).to(type).transpose(1, 2);
    // Keys with a non-unit stride along d (copied by the kernel), values a slice.
    const auto k = torch::randn({2, 8, 40, 90}, generator).to(type).transpose(-2, -1);
    const auto v = torch::randn({2, 8, 90, 50}, generator).to(type).narrow(-1, 5, 40);
    const double scale = 0.15;
    const auto expected = truth({q, k, v}, scale);
    for (const auto path : paths()) {
      const auto got = fused_attention(q, k, v, scale, path);
      EXPECT_LE(error(got, expected), type == torch::kFloat32 ? fp32_bound(expected) : kBf16Bound);
    }
    EXPECT_EQ(fused_attention(q, k, v, scale).strides(), q.strides());
  }
}

TEST_F(FusedAttention, ValuesMayBeWiderThanTheHeadDimension) {
  auto generator = at::detail::createCPUGenerator(9);
  // 56 and 72 columns: 3 and 4 vectors of 16 and a half one, the widest output tile.
  for (const int64_t width : {56, 72})
    for (const auto type : {torch::kFloat32, torch::kBFloat16}) {
      const auto q = torch::randn({2, 3, 70, 24}, generator).to(type);
      const auto k = torch::randn({2, 3, 140, 24}, generator).to(type);
      const auto v = torch::randn({2, 3, 140, width}, generator).to(type);
      const auto expected = truth({q, k, v}, 0.2);
      for (const auto path : paths()) {
        const auto got = fused_attention(q, k, v, 0.2, path);
        EXPECT_LE(error(got, expected),
                  type == torch::kFloat32 ? fp32_bound(expected) : kBf16Bound);
      }
    }
}

TEST_F(FusedAttention, LargeScoresDoNotOverflow) {
  // Scores of several thousand: exp() overflows float32 beyond 88 without the running maximum.
  const Shape shape{{1, 2}, 70, 200, 64};
  for (const auto type : {torch::kFloat32, torch::kBFloat16}) {
    auto x = random_qkv(shape, type, 4);
    x.q = x.q * 30;
    x.k = x.k * 30;
    const double scale = 0.125;
    const auto expected = truth(x, scale);
    ASSERT_TRUE(torch::isfinite(expected).all().item<bool>());
    for (const auto path : paths()) {
      const auto got = fused_attention(x.q, x.k, x.v, scale, path);
      EXPECT_TRUE(torch::isfinite(got).all().item<bool>());
      EXPECT_LE(error(got, expected), type == torch::kFloat32 ? fp32_bound(expected) : kBf16Bound);
    }
  }
}

TEST_F(FusedAttention, TwoThreadsGiveTheSameResultAsOne) {
  const Shape shape{{2, 3}, 150, 77, 40};
  for (const auto type : {torch::kFloat32, torch::kBFloat16})
    for (const auto path : paths()) {
      const auto x = random_qkv(shape, type, 5);
      const auto one = fused_attention(x.q, x.k, x.v, 0.2, path);
      at::set_num_threads(2);
      const auto two = fused_attention(x.q, x.k, x.v, 0.2, path);
      at::set_num_threads(1);
      // Each query block is computed by one thread in a fixed order: bit for bit the same.
      EXPECT_TRUE(torch::equal(one, two));
    }
}

// The kernel's work is split by at::parallel_for, which is a serial loop in code built without
// -fopenmp: the kernel then ran on one core whatever the thread count (found by perf). This
// translation unit is built with the same flags as the library's.
TEST(IntraOpThreads, ParallelForSpreadsItsWorkOverTheThreads) {
  const int before = at::get_num_threads();
  at::set_num_threads(2);
  std::mutex mutex;
  std::set<std::thread::id> workers;
  at::parallel_for(0, 64, 1, [&](int64_t, int64_t) {
    const std::lock_guard<std::mutex> lock(mutex);
    workers.insert(std::this_thread::get_id());
  });
  at::set_num_threads(before);
  EXPECT_EQ(workers.size(), 2u);
}

TEST_F(FusedAttention, AttentionUsesTheFusedKernelOnlyWhereItCan) {
  const auto x = random_qkv({{2, 4}, 20, 77, 16}, torch::kFloat32, 6);
  EXPECT_TRUE(fused_attention_supports(x.q, x.k, x.v, 0.25));
  EXPECT_TRUE(torch::equal(attention(x.q, x.k, x.v, 0.25), fused_attention(x.q, x.k, x.v, 0.25)));
  // Broadcast keys, other dtypes and a non-positive scale take the reference.
  EXPECT_FALSE(fused_attention_supports(x.q, x.k.narrow(0, 0, 1), x.v.narrow(0, 0, 1), 0.25));
  EXPECT_FALSE(fused_attention_supports(x.q.to(torch::kDouble), x.k, x.v, 0.25));
  EXPECT_FALSE(fused_attention_supports(x.q, x.k, x.v, 0.0));
  EXPECT_FALSE(fused_attention_supports(x.q, x.k, x.v, 1e7));
}

TEST(FusedAttentionTraining, GradientsFlowThroughTheReference) {
  // The kernel has no backward: with a gradient to compute, attention() must not use it.
  const auto x = random_qkv({{1, 2}, 9, 11, 8}, torch::kFloat32, 7);
  const auto q = x.q.clone().requires_grad_(true);
  EXPECT_FALSE(fused_attention_supports(q, x.k, x.v, 0.3));
  attention(q, x.k, x.v, 0.3).sum().backward();
  ASSERT_TRUE(q.grad().defined());
  EXPECT_TRUE(torch::isfinite(q.grad()).all().item<bool>());
}

}  // namespace
}  // namespace dd::models
