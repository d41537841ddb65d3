// Batching across requests (generate_batch.h) on the tiny SD 1.5 and SDXL fixture models: each
// request's images in a batch are the ones generate() makes of it alone, with its own prompt,
// seed, guidance scale and image count; what cannot share a pass gets a different batch key.
#include <gtest/gtest.h>

#include "pipeline/generate.h"
#include "pipeline/generate_batch.h"
#include "pipeline_test_models.h"
#include "sampling/cancelled.h"
#include "util/error.h"

namespace dd::pipeline {
namespace {

GenerationRequest request(const std::string& prompt, uint64_t seed, double cfg, int samples = 1) {
  GenerationRequest r;
  r.prompt = prompt;
  r.negative_prompt = "blurry";
  r.width = 64;
  r.height = 64;
  r.steps = 4;
  r.sampler = "euler_a";  // ancestral: fresh seeded noise at every step, per image
  r.seed = seed;
  r.cfg = cfg;
  r.samples = samples;
  return r;
}

void expect_same_as_alone(DiffusionModel& model, const std::vector<GenerationRequest>& batch) {
  const auto together = generate_batch(model, batch);
  ASSERT_EQ(together.size(), batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    const auto alone = generate(model, batch[i]);
    EXPECT_EQ(together[i].seeds, alone.seeds) << "request " << i;
    ASSERT_EQ(together[i].images.sizes(), alone.images.sizes()) << "request " << i;
    const double diff = (together[i].images - alone.images).abs().max().item<double>();
    EXPECT_LT(diff, 1e-4) << "request " << i;
  }
}

TEST(GenerateBatch, EachRequestKeepsItsOwnPromptSeedGuidanceAndCount) {
  auto& model = test::sd15_tiny();
  expect_same_as_alone(model, {request("a red cat", 1, 7.0), request("a blue dog", 2, 3.0, 2),
                               request("a house", 3, 9.5)});
}

TEST(GenerateBatch, WorksForSdxlMicroConditioning) {
  auto& model = test::sdxl_tiny();
  expect_same_as_alone(model, {request("a red cat", 5, 5.0), request("a tree", 6, 8.0)});
}

TEST(GenerateBatch, DifferentPicturesForDifferentPrompts) {
  auto& model = test::sd15_tiny();
  const auto out = generate_batch(model, {request("a red cat", 1, 7.0), request("a dog", 1, 7.0)});
  EXPECT_GT((out[0].images - out[1].images).abs().max().item<double>(), 1e-3);
}

TEST(GenerateBatch, KeysSeparateWhatCannotShareAPass) {
  const auto base = request("x", 1, 7.0);
  EXPECT_FALSE(batch_key(base).empty());
  EXPECT_EQ(batch_key(base), batch_key(request("y", 9, 3.0, 2)));  // prompt, seed, scale, count
  auto other = base;
  other.steps = 5;
  EXPECT_NE(batch_key(other), batch_key(base));
  other = base;
  other.width = 128;
  EXPECT_NE(batch_key(other), batch_key(base));
  other = base;
  other.sampler = "euler";
  EXPECT_NE(batch_key(other), batch_key(base));
  EXPECT_NE(batch_key(request("x", 1, 1.0)), batch_key(base));  // no CFG: a different pass
  other = base;
  other.loras.push_back({"some.safetensors", 1.0});
  EXPECT_EQ(batch_key(other), "");
  other = base;
  other.init_image = torch::zeros({1, 3, 64, 64});
  EXPECT_EQ(batch_key(other), "");
}

TEST(GenerateBatch, RefusesMismatchedRequestsAndStopsWhenProgressSaysSo) {
  auto& model = test::sd15_tiny();
  auto other = request("y", 2, 7.0);
  other.steps = 6;
  EXPECT_THROW(generate_batch(model, {request("x", 1, 7.0), other}), Error);
  GenerationHooks hooks;
  int steps_seen = 0;
  hooks.progress = [&](int, int) { return ++steps_seen < 2; };
  EXPECT_THROW(generate_batch(model, {request("x", 1, 7.0), request("y", 2, 7.0)}, hooks),
               Cancelled);
  EXPECT_EQ(steps_seen, 2);
}

}  // namespace
}  // namespace dd::pipeline
