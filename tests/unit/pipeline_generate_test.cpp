// Behaviour of the generation pipeline on the tiny SD 1.5 fixture model: determinism, per-image
// seeds, progress, cancellation, LoRA scoping, img2img/inpainting and request validation.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "io/fixtures.h"
#include "io/tensor_file.h"
#include "pipeline/generate.h"
#include "pipeline_test_models.h"
#include "sampling/seeded_noise.h"
#include "test_support.h"
#include "util/error.h"

namespace dd::pipeline {
namespace {

GenerationRequest small_request() {
  GenerationRequest r;
  r.prompt = "a red circle on a blue background";
  r.negative_prompt = "blurry";
  r.width = 64;
  r.height = 64;
  r.steps = 4;
  r.sampler = "euler_a";
  r.seed = 42;
  return r;
}

TEST(Generate, SameSeedSameImageOtherSeedOtherImage) {
  DD_REQUIRE_FIXTURES();
  auto& model = test::sd15_tiny();
  auto request = small_request();
  const auto a = generate(model, request);
  const auto b = generate(model, request);
  EXPECT_TRUE(torch::equal(a.images, b.images));
  request.seed = 43;
  const auto c = generate(model, request);
  EXPECT_FALSE(torch::equal(a.images, c.images));
  EXPECT_EQ(a.images.sizes(), (std::vector<int64_t>{1, 64, 64, 3}));
}

TEST(Generate, EachImageDependsOnlyOnItsOwnSeed) {
  DD_REQUIRE_FIXTURES();
  auto& model = test::sd15_tiny();
  auto request = small_request();
  request.samples = 2;
  const auto batch = generate(model, request);
  ASSERT_EQ(batch.seeds, (std::vector<uint64_t>{42, 43}));
  request.samples = 1;
  request.seed = 43;
  const auto single = generate(model, request);
  EXPECT_LT(io::max_abs_diff(batch.images[1], single.images[0]), 1e-5);
}

TEST(Generate, ReportsProgressEveryStepAndCancelsWithinOne) {
  DD_REQUIRE_FIXTURES();
  auto& model = test::sd15_tiny();
  auto request = small_request();
  std::vector<int> seen;
  GenerationHooks hooks;
  hooks.progress = [&](int step, int total) {
    seen.push_back(step);
    EXPECT_EQ(total, request.steps);
    return true;
  };
  generate(model, request, hooks);
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3}));

  int calls = 0;
  hooks.progress = [&](int, int) { return ++calls < 2; };
  EXPECT_THROW(generate(model, request, hooks), Cancelled);
  EXPECT_EQ(calls, 2);
}

TEST(Generate, LoraChangesTheImageOnlyWhileApplied) {
  DD_REQUIRE_FIXTURES();
  auto& model = test::sd15_tiny();
  auto request = small_request();
  const auto before = generate(model, request);
  request.loras = {{test::fixtures().resolve("models/lora/sd15-tiny-lora.safetensors"), 0.8}};
  const auto with_lora = generate(model, request);
  EXPECT_GT(io::max_abs_diff(before.latents, with_lora.latents), 1e-3);
  request.loras.clear();
  const auto after = generate(model, request);
  EXPECT_TRUE(torch::equal(before.latents, after.latents)) << "LoRA was not removed";
}

TEST(Generate, BadLoraLeavesTheModelUntouched) {
  DD_REQUIRE_FIXTURES();
  auto& model = test::sd15_tiny();
  auto request = small_request();
  const auto before = generate(model, request);
  request.loras = {{test::fixtures().resolve("models/lora/sd15-tiny-lora.safetensors"), 0.8},
                   {"/nonexistent/lora.safetensors", 1.0}};
  EXPECT_THROW(generate(model, request), Error);
  request.loras.clear();
  EXPECT_TRUE(torch::equal(before.latents, generate(model, request).latents));
}

TEST(Generate, Img2ImgRunsOnlyTheLastStrengthFractionOfTheSteps) {
  DD_REQUIRE_FIXTURES();
  auto& model = test::sd15_tiny();
  auto request = small_request();
  request.sampler = "euler";
  request.steps = 10;
  request.init_image = torch::rand({1, 3, 64, 64}, at::detail::createCPUGenerator(7));
  std::vector<int> steps_run;
  GenerationHooks hooks;
  hooks.progress = [&](int step, int total) {
    EXPECT_EQ(total, request.strength == 1.0 ? 10 : 5);
    steps_run.push_back(step);
    return true;
  };
  request.strength = 0.5;
  const auto half = generate(model, request, hooks);
  EXPECT_EQ(steps_run, (std::vector<int>{0, 1, 2, 3, 4}));
  steps_run.clear();
  request.strength = 1.0;
  const auto full = generate(model, request, hooks);
  EXPECT_EQ(steps_run.size(), 10u);
  EXPECT_FALSE(torch::equal(half.latents, full.latents));
}

TEST(Generate, LatentMaskKeepsExactlyTheUnmaskedPicture) {
  DD_REQUIRE_FIXTURES();
  auto& model = test::sd15_tiny();
  auto request = small_request();
  request.sampler = "euler";
  request.init_image = torch::rand({1, 3, 64, 64}, at::detail::createCPUGenerator(7));
  request.strength = 1.0;

  // Mask everything: nothing is put back, so it is img2img.
  request.mask = torch::ones({1, 1, 64, 64});
  const auto all_masked = generate(model, request);
  auto plain = request;
  plain.mask = torch::Tensor();
  EXPECT_TRUE(torch::equal(all_masked.latents, generate(model, plain).latents));

  // Mask nothing: the result is the picture's own latents (posterior sample drawn first from
  // the image's seeded generator).
  request.mask = torch::zeros({1, 1, 64, 64});
  const auto kept = generate(model, request);
  const auto expected = test::seeded_image_latents(model, request.init_image, request.seed);
  EXPECT_LT(io::max_abs_diff(kept.latents, expected), 1e-5);
}

struct BadRequest {
  const char* name;
  std::function<void(GenerationRequest&)> change;
  const char* message;
};

TEST(Generate, RejectsBadRequestsWithAClearMessage) {
  DD_REQUIRE_FIXTURES();
  auto& model = test::sd15_tiny();
  const std::vector<BadRequest> cases = {
      {"width", [](auto& r) { r.width = 65; }, "multiple of 8"},
      {"steps", [](auto& r) { r.steps = 0; }, "steps"},
      {"samples", [](auto& r) { r.samples = 9; }, "samples"},
      {"sampler", [](auto& r) { r.sampler = "warp"; }, "unknown sampler"},
      {"cfg", [](auto& r) { r.cfg = std::nan(""); }, "cfg"},
      {"strength", [](auto& r) { r.strength = 1.5; }, "strength"},
      {"mask without image",
       [](auto& r) {
         r.mask = torch::zeros({1, 1, 64, 64});
       },
       "init image"},
      {"latents shape",
       [](auto& r) {
         r.latents = torch::zeros({1, 4, 3, 3});
       },
       "latents"},
  };
  for (const auto& c : cases) {
    auto request = small_request();
    c.change(request);
    try {
      generate(model, request);
      ADD_FAILURE() << c.name << ": accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos)
          << c.name << ": " << e.what();
    }
  }
}

}  // namespace
}  // namespace dd::pipeline

namespace dd::pipeline {
namespace {

// sd15-tiny's text encoder is stored in float16 and kept so (it computes in float32). A LoRA
// merges into such a weight in float32 for the request, and the float16 weight comes back.
TEST(Lora, SixteenBitTextEncoderWeightsMergeInFloat32AndComeBack) {
  DD_REQUIRE_FIXTURES();
  auto& model = test::sd15_tiny();
  const auto file = test::fixtures().resolve("models/lora/sd15-tiny-lora.safetensors");
  torch::Tensor weight =
      model.text_encoders[0]->named_parameters()["text_model.encoder.layers.0.mlp.fc1.weight"];
  ASSERT_EQ(weight.scalar_type(), torch::kHalf);
  const auto before = weight.clone();
  {
    ScopedLoras loras(model, {{file, 0.8}});
    EXPECT_EQ(weight.scalar_type(), torch::kFloat32);
    EXPECT_GT(io::max_abs_diff(weight, before.to(torch::kFloat32)), 1e-4);
  }
  EXPECT_EQ(weight.scalar_type(), torch::kHalf);
  EXPECT_TRUE(torch::equal(weight, before));
}

// Two LoRAs at once add up: the fixture LoRA twice at 0.4 equals it once at 0.8, and the
// single-file LDM module names (lora_unet_input_blocks_...) reach the same weights.
TEST(Lora, SeveralAtOnceAddUpAndLdmNamesWork) {
  DD_REQUIRE_FIXTURES();
  auto& model = test::sd15_tiny();
  const auto file = test::fixtures().resolve("models/lora/sd15-tiny-lora.safetensors");
  const auto& c = test::fixtures().at("lora_sd15_unet");
  torch::NoGradGuard no_grad;
  auto run = [&] {
    return model.unet->forward(c.input("sample"), torch::tensor({999.0f}),
                               c.input("encoder_hidden_states"));
  };
  const auto plain = run();
  torch::Tensor once, twice;
  {
    ScopedLoras loras(model, {{file, 0.8}});
    once = run();
  }
  {
    ScopedLoras loras(model, {{file, 0.4}, {file, 0.4}});
    twice = run();
  }
  EXPECT_GT(io::max_abs_diff(once, plain), 1e-3);
  EXPECT_LT(io::max_abs_diff(once, twice), 1e-5);
  EXPECT_TRUE(torch::equal(run(), plain)) << "LoRAs were not removed";

  // The same LoRA with its UNet modules renamed to the single-file (LDM) names.
  io::SafetensorsFile lora(file);
  const auto keymap = nlohmann::json::parse(
      std::ifstream(test::fixtures().resolve("models/lora/sd15-tiny-lora.keymap.json")));
  std::map<std::string, std::string> ldm_names;  // kohya module -> LDM module path
  for (const auto& entry : keymap) {
    std::string weight = entry.value("single_file_weight", "");
    const std::string prefix = "model.diffusion_model.", suffix = ".weight";
    if (weight.rfind(prefix, 0) != 0) continue;
    weight = weight.substr(prefix.size(), weight.size() - prefix.size() - suffix.size());
    std::replace(weight.begin(), weight.end(), '.', '_');
    ldm_names[entry.at("lora").get<std::string>()] = "lora_unet_" + weight;
  }
  io::NamedTensors renamed;
  size_t ldm_named = 0;
  for (const auto& entry : lora.entries()) {
    std::string key = entry.name;
    const auto dot = key.find('.');
    auto it = ldm_names.find(key.substr(0, dot));
    if (it != ldm_names.end()) {
      key = it->second + key.substr(dot);
      ++ldm_named;
    }
    renamed.emplace_back(key, io::load_tensor(lora, entry));
  }
  ASSERT_GT(ldm_named, 0u) << "keymap format not understood";
  const auto ldm_file =
      (std::filesystem::temp_directory_path() / "dd_lora_ldm.safetensors").string();
  io::save_safetensors(ldm_file, renamed);
  ScopedLoras loras(model, {{ldm_file, 0.8}});
  EXPECT_LT(io::max_abs_diff(run(), once), 1e-6);
}

}  // namespace
}  // namespace dd::pipeline
