// Built-in presets have the real models' sizes, and single-file checkpoints are matched to them
// by their keys and shapes.
#include <gtest/gtest.h>

#include <filesystem>

#include "io/tensor_file.h"
#include "models/clip_text.h"
#include "models/presets.h"
#include "models/unet.h"
#include "models/vae.h"
#include "util/error.h"

namespace dd::models {
namespace {

int64_t parameter_count(torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

// Parameter counts of the published checkpoints (UNet, VAE, text encoder).
TEST(Presets, Sd15HasTheRealModelsParameterCounts) {
  torch::NoGradGuard no_grad;
  const auto config = preset("sd15");
  UNet unet(config.unet);
  AutoencoderKL vae(config.vae);
  ClipTextModel text(config.text_encoders.at(0));
  EXPECT_EQ(parameter_count(*unet), 859520964);
  EXPECT_EQ(parameter_count(*vae), 83653863);
  EXPECT_EQ(parameter_count(*text), 123060480);
}

TEST(Presets, Sd21UsesTheOpenClipHEncoderAndVPrediction) {
  torch::NoGradGuard no_grad;
  const auto config = preset("sd21");
  EXPECT_EQ(config.prediction, Prediction::VPrediction);
  UNet unet(config.unet);
  ClipTextModel text(config.text_encoders.at(0));
  EXPECT_EQ(parameter_count(*unet), 865910724);
  EXPECT_EQ(parameter_count(*text), 340387840);
}

// SDXL is 3.4 billion parameters: built in bfloat16 (6.8 GB instead of 13.6) only to count them.
TEST(Presets, SdxlHasTheRealModelsParameterCounts) {
  torch::NoGradGuard no_grad;
  const auto previous = torch::get_default_dtype();
  torch::set_default_dtype(caffe2::TypeMeta::Make<at::BFloat16>());
  const auto config = preset("sdxl");
  int64_t unet_count = 0, big_g_count = 0;
  try {
    unet_count = parameter_count(*UNet(config.unet));
    big_g_count = parameter_count(*ClipTextModel(config.text_encoders.at(1)));
  } catch (...) {
    torch::set_default_dtype(previous);
    throw;
  }
  torch::set_default_dtype(previous);
  EXPECT_EQ(unet_count, 2567463684);
  EXPECT_EQ(big_g_count, 694659840);  // with its text projection
  EXPECT_EQ(parameter_count(*ClipTextModel(config.text_encoders.at(0))), 123060480);
  EXPECT_EQ(parameter_count(*AutoencoderKL(config.vae)), 83653863);
  EXPECT_NEAR(config.vae.scaling_factor, 0.13025, 1e-9);
}

TEST(Presets, UnknownNameIsAnError) { EXPECT_THROW(preset("sd99"), Error); }

std::string checkpoint_with(const std::string& name,
                            const std::vector<std::pair<std::string, std::vector<int64_t>>>& keys) {
  io::NamedTensors tensors;
  for (const auto& [key, shape] : keys)
    tensors.emplace_back(key, torch::zeros(shape, torch::kFloat16));
  const auto path = (std::filesystem::temp_directory_path() / ("dd_preset_" + name)).string();
  io::save_safetensors(path, tensors);
  return path;
}

const char* kConvIn = "model.diffusion_model.input_blocks.0.0.weight";
const char* kClipL = "cond_stage_model.transformer.text_model.final_layer_norm.weight";

TEST(Presets, DetectsTheFamilyFromKeysAndShapes) {
  struct Case {
    const char* name;
    std::vector<std::pair<std::string, std::vector<int64_t>>> keys;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {"sd15", {{kConvIn, {320, 4, 3, 3}}, {kClipL, {768}}}, "sd15"},
      {"inpaint", {{kConvIn, {320, 9, 3, 3}}, {kClipL, {768}}}, "sd15-inpaint"},
      {"sd21",
       {{kConvIn, {320, 4, 3, 3}}, {"cond_stage_model.model.ln_final.weight", {1024}}},
       "sd21"},
      {"sdxl",
       {{kConvIn, {320, 4, 3, 3}}, {"conditioner.embedders.1.model.ln_final.weight", {1280}}},
       "sdxl"},
  };
  for (const auto& c : cases) {
    io::SafetensorsFile file(checkpoint_with(c.name, c.keys));
    EXPECT_EQ(detect_preset(file), c.expected) << c.name;
  }
}

TEST(Presets, RefusesWhatItCannotIdentify) {
  const std::vector<
      std::pair<std::string, std::vector<std::pair<std::string, std::vector<int64_t>>>>>
      cases = {
          {"tiny", {{kConvIn, {8, 4, 3, 3}}, {kClipL, {32}}}},
          {"no-unet", {{kClipL, {768}}}},
          {"no-text", {{kConvIn, {320, 4, 3, 3}}}},
          {"channels", {{kConvIn, {320, 5, 3, 3}}, {kClipL, {768}}}},
      };
  for (const auto& [name, keys] : cases) {
    io::SafetensorsFile file(checkpoint_with(name, keys));
    EXPECT_THROW(detect_preset(file), Error) << name;
  }
}

}  // namespace
}  // namespace dd::models
