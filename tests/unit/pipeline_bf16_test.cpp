// The bf16 fast path against the fp32 reference path on the tiny model.
#include <gtest/gtest.h>

#include "io/fixtures.h"
#include "pipeline/generate.h"
#include "pipeline_test_models.h"
#include "test_support.h"

namespace dd::pipeline {
namespace {

double relative_rms(const torch::Tensor& got, const torch::Tensor& reference) {
  auto diff = (got.to(torch::kFloat64) - reference.to(torch::kFloat64)).pow(2).mean().sqrt();
  return (diff / reference.to(torch::kFloat64).pow(2).mean().sqrt()).item<double>();
}

// bf16 keeps 8 significant bits: each weight and activation is rounded by up to 2^-9 (0.2%).
// Through ~40 layers of the random-weight tiny model and 8 sampler steps those roundings add up
// to a few percent of the signal, while a real bf16 bug (wrong layout, lost scale, a layer run
// on unconverted weights) gives errors of the order of the signal itself (~100%). So the bound
// is 10% relative RMS on the latents and 0.1 mean absolute error on [0, 1] pixels.
TEST(Bf16, PipelineStaysCloseToFp32) {
  DD_REQUIRE_FIXTURES();
  GenerationRequest r;
  r.prompt = "a photograph of an astronaut riding a horse";
  r.negative_prompt = "blurry";
  r.width = 64;
  r.height = 64;
  r.steps = 8;
  r.sampler = "dpmpp_2m";
  r.seed = 5;
  const auto fp32 = generate(test::sd15_tiny(torch::kFloat32), r);
  const auto bf16 = generate(test::sd15_tiny(torch::kBFloat16), r);
  const double latents_error = relative_rms(bf16.latents, fp32.latents);
  const double pixel_error = (bf16.images - fp32.images).abs().mean().item<double>();
  std::cout << "bf16 vs fp32: latents relative RMS " << latents_error << ", mean |pixel diff| "
            << pixel_error << "\n";
  EXPECT_LT(latents_error, 0.10);
  EXPECT_LT(pixel_error, 0.10);
  EXPECT_GT(latents_error, 0.0) << "bf16 model did not compute in bf16";
}

TEST(Bf16, WeightsAreBf16AndChannelsLast) {
  DD_REQUIRE_FIXTURES();
  auto& model = test::sd15_tiny(torch::kBFloat16);
  for (const auto& param : model.unet->parameters()) {
    EXPECT_EQ(param.scalar_type(), torch::kBFloat16);
    if (param.dim() == 4) {
      EXPECT_TRUE(param.is_contiguous(at::MemoryFormat::ChannelsLast));
    }
  }
}

}  // namespace
}  // namespace dd::pipeline
