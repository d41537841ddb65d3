// What the engine does for SD 1.x also works for the SDXL family, on the tiny SDXL fixture model:
// determinism, progress and cancellation, micro-conditioning, every sampler, img2img, latent-mask
// inpainting, LoRAs on both text encoders and the UNet, and bf16.
#include <gtest/gtest.h>

#include <filesystem>

#include "io/fixtures.h"
#include "io/tensor_file.h"
#include "models/checkpoint_keys.h"
#include "pipeline/generate.h"
#include "pipeline/text_conditioning.h"
#include "pipeline_test_models.h"
#include "sampling/seeded_noise.h"
#include "test_support.h"
#include "util/error.h"

namespace dd::pipeline {
namespace {

GenerationRequest sdxl_request() {
  GenerationRequest r;
  r.prompt = "a watercolor painting of a lighthouse";
  r.negative_prompt = "blurry";
  r.width = 64;
  r.height = 48;
  r.steps = 3;
  r.sampler = "euler";
  r.seed = 7;
  return r;
}

TEST(Sdxl, DeterministicWithProgressAndCancellation) {
  DD_REQUIRE_FIXTURES();
  auto& model = test::sdxl_tiny();
  auto request = sdxl_request();
  std::vector<int> seen;
  GenerationHooks hooks;
  hooks.progress = [&](int step, int) {
    seen.push_back(step);
    return true;
  };
  const auto a = generate(model, request, hooks);
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(a.images.sizes(), (std::vector<int64_t>{1, 48, 64, 3}));
  EXPECT_TRUE(torch::equal(a.images, generate(model, request).images));
  request.seed = 8;
  EXPECT_FALSE(torch::equal(a.images, generate(model, request).images));

  int calls = 0;
  hooks.progress = [&](int, int) { return ++calls < 2; };
  EXPECT_THROW(generate(model, request, hooks), Cancelled);
  EXPECT_EQ(calls, 2);
}

TEST(Sdxl, MicroConditioningDefaultsAreTheOutputSizeAndNoCrop) {
  DD_REQUIRE_FIXTURES();
  auto& model = test::sdxl_tiny();
  auto request = sdxl_request();
  const auto plain = generate(model, request).latents;

  auto spelled_out = request;
  spelled_out.micro = {std::array<int, 2>{48, 64}, std::array<int, 2>{0, 0},
                       std::array<int, 2>{48, 64}};
  EXPECT_TRUE(torch::equal(plain, generate(model, spelled_out).latents));

  // Each value reaches the UNet; the negative ones only change the unconditional pass.
  auto original = request;
  original.micro.original_size = std::array<int, 2>{1024, 1024};
  auto crop = request;
  crop.micro.crop_top_left = std::array<int, 2>{32, 0};
  auto negative = request;
  negative.negative_micro.target_size = std::array<int, 2>{512, 512};
  for (const auto* changed : {&original, &crop, &negative})
    EXPECT_GT(io::max_abs_diff(plain, generate(model, *changed).latents), 1e-4);

  // Without guidance there is no unconditional pass, so negative values change nothing.
  request.cfg = 1.0;
  negative.cfg = 1.0;
  EXPECT_TRUE(torch::equal(generate(model, request).latents, generate(model, negative).latents));
}

TEST(Sdxl, BadMicroConditioningIsNamed) {
  DD_REQUIRE_FIXTURES();
  auto request = sdxl_request();
  request.negative_micro.original_size = std::array<int, 2>{0, 64};
  try {
    generate(test::sdxl_tiny(), request);
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("negative_original_size"), std::string::npos) << e.what();
  }
}

TEST(Sdxl, EverySamplerRuns) {
  DD_REQUIRE_FIXTURES();
  auto& model = test::sdxl_tiny();
  auto request = sdxl_request();
  request.steps = 2;
  for (const auto& name : sampling::Sampler::names()) {
    request.sampler = name;
    const auto result = generate(model, request);
    EXPECT_TRUE(torch::isfinite(result.latents).all().item<bool>()) << name;
  }
}

TEST(Sdxl, Img2ImgAndLatentMaskInpainting) {
  DD_REQUIRE_FIXTURES();
  auto& model = test::sdxl_tiny();
  auto request = sdxl_request();
  request.steps = 4;
  request.init_image = torch::rand({1, 3, 48, 64}, at::detail::createCPUGenerator(3));
  request.strength = 0.5;
  int steps_run = 0;
  GenerationHooks hooks;
  hooks.progress = [&](int, int total) {
    EXPECT_EQ(total, 2);
    ++steps_run;
    return true;
  };
  generate(model, request, hooks);
  EXPECT_EQ(steps_run, 2);

  // Nothing masked: the result is the picture's own latents, with the SDXL VAE scaling.
  request.strength = 1.0;
  request.mask = torch::zeros({1, 1, 48, 64});
  const auto kept = generate(model, request);
  const auto expected = test::seeded_image_latents(model, request.init_image, request.seed);
  EXPECT_LT(io::max_abs_diff(kept.latents, expected), 1e-5);
  EXPECT_NEAR(model.config().vae.scaling_factor, 0.13025, 1e-9);
}

// A kohya LoRA for the tiny SDXL model with one module on each text encoder (lora_te1_/lora_te2_)
// and one UNet module under its single-file (LDM) name, as SDXL LoRAs name them.
struct SdxlLora {
  std::string path;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> targets;  // model weight, expected delta
};

std::string weight_ending(torch::nn::Module& module, const std::string& suffix) {
  for (const auto& item : module.named_parameters())
    if (item.key().size() > suffix.size() &&
        item.key().compare(item.key().size() - suffix.size(), suffix.size(), suffix) == 0)
      return item.key();
  throw Error("no weight ending in " + suffix);
}

std::string kohya(std::string prefix, std::string path) {
  path = path.substr(0, path.size() - std::string(".weight").size());
  std::replace(path.begin(), path.end(), '.', '_');
  return prefix + path;
}

SdxlLora make_sdxl_lora(DiffusionModel& model, double weight) {
  SdxlLora lora;
  io::NamedTensors tensors;
  auto gen = at::detail::createCPUGenerator(11);
  auto add = [&](torch::nn::Module& module, const std::string& key, const std::string& name) {
    auto target = module.named_parameters()[key];
    const int64_t rank = 2;
    auto down = torch::randn({rank, target.size(1)}, gen) * 0.5;
    auto up = torch::randn({target.size(0), rank}, gen) * 0.5;
    const double alpha = 1.0;
    tensors.emplace_back(name + ".lora_down.weight", down.to(torch::kFloat16));
    tensors.emplace_back(name + ".lora_up.weight", up.to(torch::kFloat16));
    tensors.emplace_back(name + ".alpha", torch::tensor(alpha).to(torch::kFloat16));
    const auto delta = torch::matmul(up.to(torch::kFloat16).to(torch::kFloat32),
                                     down.to(torch::kFloat16).to(torch::kFloat32)) *
                       (alpha / rank) * weight;
    lora.targets.emplace_back(target, delta);
  };
  for (size_t i = 0; i < 2; ++i) {
    auto& encoder = *model.text_encoders.at(i);
    const auto key = weight_ending(encoder, "layers.1.self_attn.q_proj.weight");
    const auto name = kohya("lora_te" + std::to_string(i + 1) + "_", key);
    // The names kohya's SDXL trainer writes.
    EXPECT_EQ(name,
              "lora_te" + std::to_string(i + 1) + "_text_model_encoder_layers_1_self_attn_q_proj");
    add(encoder, key, name);
  }
  const auto unet_key = weight_ending(*model.unet, "attn2.to_k.weight");
  const auto unet_name =
      kohya("lora_unet_", models::unet_single_file_key(unet_key, model.config().unet));
  EXPECT_EQ(unet_name.rfind("lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k", 0), 0u)
      << unet_name;
  add(*model.unet, unet_key, unet_name);
  lora.path = (std::filesystem::temp_directory_path() / "dd_sdxl_lora.safetensors").string();
  io::save_safetensors(lora.path, tensors);
  return lora;
}

TEST(Sdxl, LoraReachesBothTextEncodersAndTheUnetAndIsRemovedAfter) {
  DD_REQUIRE_FIXTURES();
  auto& model = test::sdxl_tiny();
  const double weight = 0.7;
  const auto lora = make_sdxl_lora(model, weight);
  std::vector<torch::Tensor> before;
  for (const auto& [target, delta] : lora.targets) before.push_back(target.clone());
  {
    ScopedLoras scoped(model, {{lora.path, weight}});
    for (size_t i = 0; i < lora.targets.size(); ++i)
      EXPECT_LT(io::max_abs_diff(lora.targets[i].first - before[i], lora.targets[i].second), 1e-5)
          << "module " << i;
  }
  for (size_t i = 0; i < lora.targets.size(); ++i)
    EXPECT_TRUE(torch::equal(lora.targets[i].first, before[i])) << "module " << i;

  auto request = sdxl_request();
  const auto plain = generate(model, request);
  request.loras = {{lora.path, weight}};
  EXPECT_GT(io::max_abs_diff(plain.latents, generate(model, request).latents), 1e-4);
}

TEST(Sdxl, Bf16StaysCloseToFp32) {
  DD_REQUIRE_FIXTURES();
  auto request = sdxl_request();
  const auto fp32 = generate(test::sdxl_tiny(), request);
  const auto bf16 = generate(test::sdxl_tiny(torch::kBFloat16), request);
  // Same bound and reasoning as the SD 1.x bf16 test (pipeline_bf16_test.cpp).
  const double relative_rms =
      ((bf16.latents - fp32.latents).pow(2).mean().sqrt() / fp32.latents.pow(2).mean().sqrt())
          .item<double>();
  EXPECT_LT(relative_rms, 0.1);
  EXPECT_LT((bf16.images - fp32.images).abs().mean().item<double>(), 0.1);
}

}  // namespace
}  // namespace dd::pipeline
