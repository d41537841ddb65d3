// The single-file key mapping of the VAE, and the errors a broken checkpoint gives.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "io/safetensors.h"
#include "io/tensor_file.h"
#include "models/vae.h"
#include "models/vae_keys.h"
#include "models/weights.h"
#include "test_support.h"
#include "util/error.h"

namespace dd::models {
namespace {

namespace fs = std::filesystem;

VaeConfig tiny_config() {
  VaeConfig config;
  config.block_out_channels = {8, 16, 16, 16};
  config.norm_groups = 4;
  return config;
}

TEST(VaeKeys, MapsDiffusersNamesToLdmNames) {
  const VaeConfig config = tiny_config();
  EXPECT_EQ(vae_single_file_key("decoder.up_blocks.0.upsamplers.0.conv.weight", config),
            "first_stage_model.decoder.up.3.upsample.conv.weight");
  EXPECT_EQ(vae_ldm_name("decoder.up_blocks.3.resnets.2.norm1.bias", config),
            "decoder.up.0.block.2.norm1.bias");
  EXPECT_EQ(vae_ldm_name("encoder.down_blocks.1.resnets.0.conv_shortcut.weight", config),
            "encoder.down.1.block.0.nin_shortcut.weight");
  EXPECT_EQ(vae_ldm_name("encoder.down_blocks.2.downsamplers.0.conv.bias", config),
            "encoder.down.2.downsample.conv.bias");
  EXPECT_EQ(vae_ldm_name("encoder.mid_block.resnets.1.conv2.weight", config),
            "encoder.mid.block_2.conv2.weight");
  EXPECT_EQ(vae_ldm_name("decoder.mid_block.attentions.0.to_out.0.weight", config),
            "decoder.mid.attn_1.proj_out.weight");
  EXPECT_EQ(vae_ldm_name("decoder.mid_block.attentions.0.group_norm.weight", config),
            "decoder.mid.attn_1.norm.weight");
  EXPECT_EQ(vae_ldm_name("encoder.conv_norm_out.bias", config), "encoder.norm_out.bias");
  EXPECT_EQ(vae_ldm_name("post_quant_conv.weight", config), "post_quant_conv.weight");
  EXPECT_THROW(vae_ldm_name("decoder.up_blocks.4.resnets.0.conv1.weight", config), Error);
  EXPECT_THROW(vae_ldm_name("unet.conv_in.weight", config), Error);
}

// Every parameter maps to a distinct stored key, and together they are exactly the VAE keys of
// the single-file checkpoints of the models the VAE cases use (nothing stored is left unused).
TEST(VaeKeys, CoverEveryStoredTensorOfTheSingleFiles) {
  DD_REQUIRE_FIXTURES();
  const auto& fx = test::fixtures();
  std::set<std::string> models;
  for (const auto& c : fx.cases())
    if (c.kind() == "vae_decode" || c.kind() == "vae_encode") models.insert(c.model());
  EXPECT_FALSE(models.empty());
  for (const auto& model : models) {
    SCOPED_TRACE(model);
    std::ifstream arch_in(fx.model_path(model, "arch"));
    const VaeConfig config = model_config_from_arch_json(nlohmann::json::parse(arch_in), model).vae;
    io::SafetensorsFile file(fx.model_path(model, "single_file"));
    std::set<std::string> stored;
    for (const auto& e : file.entries())
      if (e.name.rfind(kVaeSingleFilePrefix, 0) == 0) stored.insert(e.name);
    std::set<std::string> mapped;
    AutoencoderKL vae(config);
    for (const auto& p : vae->named_parameters())
      mapped.insert(vae_single_file_key(p.key(), config));
    EXPECT_EQ(mapped.size(), vae->named_parameters().size());
    EXPECT_EQ(mapped, stored);
  }
}

class VaeBrokenCheckpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("dd_vae_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // All parameters of a fresh VAE under their single-file keys, except `skip`.
  io::NamedTensors single_file_tensors(const VaeConfig& config, const std::string& skip = "") {
    AutoencoderKL vae(config);
    io::NamedTensors tensors;
    for (const auto& p : vae->named_parameters())
      if (p.key() != skip) tensors.emplace_back(vae_single_file_key(p.key(), config), p.value());
    return tensors;
  }

  fs::path dir_;
};

TEST_F(VaeBrokenCheckpoint, MissingTensorIsNamed) {
  const VaeConfig config = tiny_config();
  const std::string missing = "decoder.mid_block.attentions.0.to_k.weight";
  const std::string path = (dir_ / "missing.safetensors").string();
  io::save_safetensors(path, single_file_tensors(config, missing));

  auto file = std::make_shared<io::SafetensorsFile>(path);
  AutoencoderKL vae(config);
  try {
    load_weights(*vae, *vae_ldm_weights(file, config), "vae");
    FAIL() << "loading a checkpoint without " << missing << " succeeded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("first_stage_model.decoder.mid.attn_1.k.weight"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(VaeBrokenCheckpoint, CompleteFileLoadsAndRoundTrips) {
  const VaeConfig config = tiny_config();
  const std::string path = (dir_ / "complete.safetensors").string();
  const auto tensors = single_file_tensors(config);
  io::save_safetensors(path, tensors);
  AutoencoderKL vae(config);
  load_weights(*vae, *vae_ldm_weights(std::make_shared<io::SafetensorsFile>(path), config), "vae");
  const auto params = vae->named_parameters();
  // The file holds the values of another (randomly initialised) VAE: after loading, every
  // parameter equals its stored tensor.
  std::map<std::string, torch::Tensor> stored(tensors.begin(), tensors.end());
  for (const auto& p : params)
    EXPECT_TRUE(torch::equal(p.value(), stored.at(vae_single_file_key(p.key(), config))))
        << p.key();
}

TEST_F(VaeBrokenCheckpoint, TruncatedFileIsAClearError) {
  const VaeConfig config = tiny_config();
  const std::string path = (dir_ / "truncated.safetensors").string();
  io::save_safetensors(path, single_file_tensors(config));
  fs::resize_file(path, fs::file_size(path) / 2);
  try {
    io::SafetensorsFile file(path);
    FAIL() << "a truncated file opened";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST_F(VaeBrokenCheckpoint, WrongArchitectureNamesTheTensor) {
  const VaeConfig stored = tiny_config();
  VaeConfig wider = stored;
  wider.block_out_channels[0] = 12;
  const std::string path = (dir_ / "narrow.safetensors").string();
  io::save_safetensors(path, single_file_tensors(stored));
  AutoencoderKL vae(wider);
  try {
    load_weights(*vae, *vae_ldm_weights(std::make_shared<io::SafetensorsFile>(path), wider), "vae");
    FAIL() << "weights of another architecture loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("encoder.conv_in.weight"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dd::models
