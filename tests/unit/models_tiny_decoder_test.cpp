// The TAESD-style preview decoder: its architecture, both published key layouts, and clear
// errors for files that are not one.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "io/tensor_file.h"
#include "models/tiny_decoder.h"
#include "util/error.h"

namespace dd::models {
namespace {

namespace fs = std::filesystem;

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("dd_taesd_" + std::to_string(getpid()));
  fs::create_directories(dir);
  return dir / name;
}

TinyDecoderConfig small_config() {
  TinyDecoderConfig c;
  c.channels = 8;
  c.upsamples = 2;
  c.blocks_per_stage = 2;
  return c;
}

// The same weights under the original TAESD names: index + 1 (index 0 is its clamp).
io::NamedTensors original_layout(TinyDecoder& decoder) {
  io::NamedTensors tensors;
  for (const auto& item : decoder->named_parameters(/*recurse=*/true)) {
    const std::string rest = item.key().substr(std::string("layers.").size());
    const size_t dot = rest.find('.');
    tensors.emplace_back(std::to_string(std::stoi(rest.substr(0, dot)) + 1) + rest.substr(dot),
                         item.value().detach().to(torch::kFloat16));
  }
  return tensors;
}

TEST(TinyDecoder, TaesdShapesAndOutputRange) {
  torch::NoGradGuard no_grad;
  TinyDecoder taesd{TinyDecoderConfig{}};
  // SD's TAESD: 1 + 3 stages x (3 blocks x 3 convs + 1 conv, no bias) + 1 block + 1 output conv.
  int weights = 0, biases = 0;
  for (const auto& item : taesd->named_parameters()) {
    weights += item.key().find("weight") != std::string::npos;
    biases += item.key().find("bias") != std::string::npos;
  }
  EXPECT_EQ(weights, 1 + 3 * (9 + 1) + 3 + 1);
  EXPECT_EQ(biases, 1 + 3 * 9 + 3 + 1);
  EXPECT_TRUE(taesd->named_parameters().contains("layers.2.conv.0.weight"));
  EXPECT_TRUE(taesd->named_parameters().contains("layers.18.weight"));
  const auto image = taesd->forward(torch::randn({2, 4, 8, 6}) * 10);
  EXPECT_EQ(image.sizes(), (std::vector<int64_t>{2, 3, 64, 48}));
  EXPECT_GE(image.min().item<float>(), 0.0f);
  EXPECT_LE(image.max().item<float>(), 1.0f);
  EXPECT_THROW(taesd->forward(torch::randn({1, 16, 8, 8})), Error);
}

TEST(TinyDecoder, LoadsBothPublishedLayoutsToTheSameDecoder) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(3);
  TinyDecoder source{small_config()};
  for (auto& p : source->parameters()) p.normal_(0, 0.2).copy_(p.to(torch::kFloat16));
  const fs::path diffusers = scratch("diffusers.safetensors");
  const fs::path original = scratch("taesd_decoder.safetensors");
  save_tiny_decoder(source, diffusers.string());
  io::save_safetensors(original.string(), original_layout(source));

  const auto latents = torch::randn({1, 4, 5, 7});
  const auto expected = source->forward(latents);
  for (const fs::path& file : {diffusers, original}) {
    SCOPED_TRACE(file.string());
    TinyDecoder loaded = load_tiny_decoder(file.string());
    EXPECT_EQ(loaded->config().channels, 8);
    EXPECT_EQ(loaded->config().upsamples, 2);
    EXPECT_EQ(loaded->config().blocks_per_stage, 2);
    EXPECT_EQ(loaded->config().latent_channels, 4);
    EXPECT_TRUE(torch::equal(loaded->forward(latents), expected));
  }
  fs::remove_all(diffusers.parent_path());
}

TEST(TinyDecoder, FilesThatAreNotOneAreClearErrors) {
  torch::NoGradGuard no_grad;
  TinyDecoder source{small_config()};
  io::NamedTensors tensors;
  for (const auto& item : source->named_parameters())
    tensors.emplace_back(item.key(), item.value());
  auto write = [](const io::NamedTensors& t) {
    const fs::path file = scratch("broken.safetensors");
    io::save_safetensors(file.string(), t);
    return file.string();
  };
  auto message_of = [](const std::string& path) {
    try {
      load_tiny_decoder(path);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  // No layout's first layer (these names lack both prefixes).
  EXPECT_NE(message_of(write(tensors)).find("not a TAESD-style tiny decoder"), std::string::npos);
  // A layer missing: the stack no longer adds up.
  io::NamedTensors missing;
  for (const auto& [name, t] : tensors)
    if (name.rfind("layers.11.", 0) != 0) missing.emplace_back("decoder." + name, t);
  EXPECT_NE(message_of(write(missing)).find("do not form"), std::string::npos);
  // A tensor of the wrong shape.
  io::NamedTensors wrong;
  for (const auto& [name, t] : tensors)
    wrong.emplace_back("decoder." + name,
                       name == "layers.2.conv.2.weight" ? torch::zeros({8, 8, 1, 1}) : t);
  EXPECT_NE(message_of(write(wrong)).find("layers.2.conv.2.weight"), std::string::npos);
  EXPECT_THROW(load_tiny_decoder(scratch("absent.safetensors").string()), Error);
  fs::remove_all(scratch("").parent_path());
}

}  // namespace
}  // namespace dd::models
