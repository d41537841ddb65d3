// How FLUX.1 generation behaves on the tiny fixture models: seeds, true CFG, distilled guidance,
// batches, the parameters it refuses, progress and cancellation, and the family's defaults
// through resolve().
#include <gtest/gtest.h>

#include "pipeline/family_defaults.h"
#include "pipeline/generate.h"
#include "pipeline/resolve.h"
#include "pipeline_flux_variants.h"
#include "sampling/cancelled.h"
#include "test_support.h"
#include "util/error.h"

namespace dd::pipeline {
namespace {

// Images of different seeds, prompts or guidance differ by far more than this.
constexpr double kDifferent = 1e-3;

class FluxGeneration : public ::testing::Test {
 protected:
  void SetUp() override {
    DD_REQUIRE_FLUX_FIXTURES();
    if (!schnell_) schnell_ = test::load_flux_folder("flux-schnell-tiny");
    if (!dev_) dev_ = test::load_flux_folder("flux-dev-tiny");
  }
  static std::shared_ptr<DiffusionModel> schnell_, dev_;
};
std::shared_ptr<DiffusionModel> FluxGeneration::schnell_;
std::shared_ptr<DiffusionModel> FluxGeneration::dev_;

// The parameter an InvalidParameter names, "" when `run` throws none.
template <class Run>
std::string invalid_parameter(Run run) {
  try {
    run();
  } catch (const InvalidParameter& e) {
    return e.param();
  }
  return "";
}

TEST_F(FluxGeneration, TheSeedDecidesTheImage) {
  const auto a = test::flux_images(*dev_, test::flux_request("a fox", 11));
  EXPECT_TRUE(torch::equal(a, test::flux_images(*dev_, test::flux_request("a fox", 11))));
  EXPECT_GT(io::max_abs_diff(a, test::flux_images(*dev_, test::flux_request("a fox", 12))),
            kDifferent);
}

TEST_F(FluxGeneration, TrueCfgWithANegativePromptChangesTheImageDeterministically) {
  auto request = test::flux_request();
  const auto plain = test::flux_images(*schnell_, request);
  request.true_cfg = 2.0;
  request.negative_prompt = "a grey city at night";
  const auto cfg = test::flux_images(*schnell_, request);
  EXPECT_GT(io::max_abs_diff(cfg, plain), kDifferent);
  EXPECT_TRUE(torch::equal(cfg, test::flux_images(*schnell_, request)));
}

TEST_F(FluxGeneration, OnlyDevTakesGuidance) {
  auto request = test::flux_request();
  request.guidance = 3.5;
  const auto schnell = test::flux_images(*schnell_, request);
  const auto dev = test::flux_images(*dev_, request);
  request.guidance = 8.0;
  EXPECT_TRUE(torch::equal(schnell, test::flux_images(*schnell_, request)));
  EXPECT_GT(io::max_abs_diff(dev, test::flux_images(*dev_, request)), kDifferent);
}

TEST_F(FluxGeneration, ABatchIsItsSeedsRunAlone) {
  auto request = test::flux_request("a fox", 20);
  request.samples = 2;
  const auto result = generate(*dev_, request);
  ASSERT_EQ(result.images.size(0), 2);
  EXPECT_EQ(result.seeds, (std::vector<uint64_t>{20, 21}));
  for (int i = 0; i < 2; ++i) {
    const auto alone = test::flux_images(*dev_, test::flux_request("a fox", 20 + i));
    EXPECT_LE(io::max_abs_diff(result.images.slice(0, i, i + 1), alone), 1e-5) << i;
  }
  EXPECT_GT(io::max_abs_diff(result.images[0], result.images[1]), kDifferent);
}

TEST_F(FluxGeneration, RefusesWhatItCannotRun) {
  auto odd = test::flux_request();
  odd.width = 72;  // a multiple of 8, not of 16
  EXPECT_EQ(invalid_parameter([&] { test::flux_images(*schnell_, odd); }), "width");
  odd = test::flux_request();
  odd.height = 40;
  EXPECT_FALSE(invalid_parameter([&] { test::flux_images(*schnell_, odd); }).empty());

  auto sampler = test::flux_request();
  sampler.sampler = "dpmpp_2m";
  EXPECT_EQ(invalid_parameter([&] { test::flux_images(*schnell_, sampler); }), "sampler");

  auto img2img = test::flux_request();
  img2img.init_image = torch::rand({1, 3, 64, 64});
  // The reference starts at step int(steps - steps * strength): any strength that leaves
  // steps * strength > 0 after rounding runs at least one step; smaller ones run none.
  for (double strength : {0.0, 1e-17}) {
    img2img.strength = strength;
    EXPECT_EQ(invalid_parameter([&] { test::flux_images(*schnell_, img2img); }), "strength")
        << strength;
  }
  img2img.strength = 0.2;  // int(2 - 0.4) = 1: the last step runs
  int steps_run = 0;
  GenerationHooks count;
  count.progress = [&](int, int) { return ++steps_run > 0; };
  EXPECT_EQ(test::flux_images(*schnell_, img2img, count).sizes(),
            (std::vector<int64_t>{1, 64, 64, 3}));
  EXPECT_EQ(steps_run, 1);
}

TEST(FluxFillGeneration, NeedsAnImageAndAMask) {
  DD_REQUIRE_FLUX_FILL_FIXTURES();
  ModelSource source;
  source.path = test::flux_fill_fixtures().model_path("flux-fill-dev-tiny", "diffusers_dir");
  const auto fill = DiffusionModel::load(source);
  ASSERT_TRUE(fill->is_flux_fill_model());
  EXPECT_FALSE(invalid_parameter([&] { test::flux_images(*fill); }).empty());
  auto no_mask = test::flux_request();
  no_mask.init_image = torch::rand({1, 3, 64, 64});
  EXPECT_FALSE(invalid_parameter([&] { test::flux_images(*fill, no_mask); }).empty());
}

TEST_F(FluxGeneration, ProgressOncePerStepAndCancellation) {
  auto request = test::flux_request();
  request.steps = 3;
  std::vector<int> steps;
  GenerationHooks hooks;
  hooks.progress = [&](int step, int total) {
    EXPECT_EQ(total, 3);
    steps.push_back(step);
    return true;
  };
  test::flux_images(*schnell_, request, hooks);
  EXPECT_EQ(steps, (std::vector<int>{0, 1, 2}));

  int calls = 0;
  hooks.progress = [&](int, int) { return ++calls < 2; };
  EXPECT_THROW(test::flux_images(*schnell_, request, hooks), Cancelled);
  EXPECT_EQ(calls, 2);
  // The model still works after a cancelled run.
  request.steps = 2;
  EXPECT_TRUE(torch::equal(test::flux_images(*schnell_, request), test::flux_images(*schnell_)));
}

TEST_F(FluxGeneration, TheFamilysDefaultsBeatTheDialectsThroughResolve) {
  GenerationParams dialect;
  dialect.steps = 30;  // /sd's default
  GenerationParams asked;
  asked.prompt = "a fox";
  asked.seed = 1;
  const auto schnell = resolve(asked, {{}, family_defaults(schnell_->config()), dialect, 64, 64});
  EXPECT_EQ(schnell.steps, 4);
  EXPECT_EQ(schnell.sampler, "euler");
  const auto dev = resolve(asked, {{}, family_defaults(dev_->config()), dialect, 64, 64});
  EXPECT_EQ(dev.steps, 28);
  EXPECT_EQ(dev.guidance, 3.5);
  EXPECT_EQ(dev.sampler, "euler");
  // What resolve() gives, the engine runs.
  auto request = engine_request(schnell);
  request.max_sequence_length = 16;
  EXPECT_EQ(test::flux_images(*schnell_, request).sizes(), (std::vector<int64_t>{1, 64, 64, 3}));
}

}  // namespace
}  // namespace dd::pipeline
