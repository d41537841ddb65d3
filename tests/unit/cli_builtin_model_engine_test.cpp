// The built-in model (models/diffusiond-scenes) through the engine's every path: each sampler,
// img2img, inpainting and bf16 — it is an SD 1.x-architecture model, so nothing is special-cased.
#include <gtest/gtest.h>

#include <filesystem>

#include "cli/model_choice.h"
#include "pipeline/generate.h"
#include "pipeline/image_tensor.h"
#include "pipeline/model.h"
#include "sampling/sampler.h"
#include "scenes/scene.h"
#include "scenes/scene_renderer.h"

namespace dd::cli {
namespace {

class BuiltinModel : public ::testing::Test {
 protected:
  static std::shared_ptr<pipeline::DiffusionModel> load(torch::ScalarType dtype) {
    pipeline::ModelSource source;
    source.path = (std::filesystem::path(builtin_models_dir()) / kBuiltinModelId).string();
    source.dtype = dtype;
    return pipeline::DiffusionModel::load(source);
  }

  void SetUp() override {
    if (!has_builtin_model(builtin_models_dir()))
      GTEST_SKIP() << "no built-in model " << kBuiltinModelId << " in " << builtin_models_dir();
    // One thread: a test process cannot make OpenMP wait passively as the binary does.
    at::set_num_threads(1);
    if (!model_) model_ = load(torch::kFloat32);
  }

  static pipeline::GenerationRequest request(int steps = 8) {
    pipeline::GenerationRequest r;
    r.prompt = "a large red circle in the centre on a blue background";
    r.steps = steps;
    r.seed = 11;
    return r;
  }

  // A scene picture to start img2img and inpainting from.
  static torch::Tensor scene_picture() {
    scenes::Scene scene = scenes::sample_training_scene(3);
    return pipeline::image_to_tensor(scenes::render(scene, 64));
  }

  static double mean_difference(const torch::Tensor& nhwc, const torch::Tensor& nchw,
                                const torch::Tensor& where) {
    const auto difference = (nhwc.permute({0, 3, 1, 2}) - nchw).abs().mean(1, true);
    return (difference * where).sum().item<double>() / where.sum().item<double>();
  }

  static std::shared_ptr<pipeline::DiffusionModel> model_;
};

std::shared_ptr<pipeline::DiffusionModel> BuiltinModel::model_;

TEST_F(BuiltinModel, EverySamplerMakesAPicture) {
  for (const auto& sampler : sampling::Sampler::names()) {
    auto r = request(4);
    r.sampler = sampler;
    const auto result = pipeline::generate(*model_, r);
    ASSERT_EQ(result.images.sizes(), (std::vector<int64_t>{1, 64, 64, 3})) << sampler;
    EXPECT_TRUE(torch::isfinite(result.images).all().item<bool>()) << sampler;
    EXPECT_GT(result.images.std().item<double>(), 0.01) << sampler << ": a flat picture";
  }
}

TEST_F(BuiltinModel, ImageToImageStaysNearTheStartingPicture) {
  const torch::Tensor init = scene_picture();
  const torch::Tensor everywhere = torch::ones({1, 1, 64, 64});
  auto r = request();
  const double from_scratch =
      mean_difference(pipeline::generate(*model_, r).images, init, everywhere);
  r.init_image = init;
  r.strength = 0.3;
  const double from_init = mean_difference(pipeline::generate(*model_, r).images, init, everywhere);
  EXPECT_LT(from_init, from_scratch / 2) << from_init << " vs " << from_scratch;
}

TEST_F(BuiltinModel, InpaintingKeepsTheUnmaskedHalf) {
  const torch::Tensor init = scene_picture();
  torch::Tensor mask = torch::zeros({1, 1, 64, 64});
  mask.index_put_({torch::indexing::Slice(), torch::indexing::Slice(), torch::indexing::Slice(),
                   torch::indexing::Slice(32, 64)},
                  1.0);
  auto r = request();
  const double unconstrained =
      mean_difference(pipeline::generate(*model_, r).images, init, 1 - mask);
  r.init_image = init;
  r.mask = mask;
  r.strength = 1.0;
  const double kept = mean_difference(pipeline::generate(*model_, r).images, init, 1 - mask);
  EXPECT_LT(kept, unconstrained / 2) << kept << " vs " << unconstrained;
}

// One deterministic step, so the comparison measures bf16's rounding, not how a few-step
// trajectory of a small model amplifies it.
TEST_F(BuiltinModel, Bf16StepStaysCloseToFp32) {
  auto bf16 = load(torch::kBFloat16);
  auto r = request(1);
  r.sampler = "euler";
  const auto a = pipeline::generate(*model_, r).latents;
  const auto b = pipeline::generate(*bf16, r).latents;
  const double relative = ((a - b).norm() / a.norm()).item<double>();
  EXPECT_LT(relative, 0.02) << relative;
}

}  // namespace
}  // namespace dd::cli
