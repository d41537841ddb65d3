// FLUX transformer configs (architecture JSON, diffusers config, detection from shapes), the
// BFL <-> diffusers key map, layout detection, and clear errors for bad checkpoints.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "io/tensor_file.h"
#include "models/weights.h"
#include "models_flux_fixtures.h"
#include "test_support.h"
#include "util/error.h"

namespace dd {
namespace {

namespace fs = std::filesystem;
using models::FluxConfig;

std::string message_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no dd::Error)";
}

TEST(FluxConfig, EverySourceAgrees) {
  DD_REQUIRE_FLUX_FIXTURES();
  const auto& set = test::flux_fixtures();
  for (const std::string model : {"flux-schnell-tiny", "flux-dev-tiny"}) {
    SCOPED_TRACE(model);
    const auto arch = models::flux_config_from_arch_json(test::flux_arch(set, model));
    EXPECT_EQ(arch.hidden_size, 32);
    EXPECT_EQ(arch.num_heads * arch.head_dim, arch.hidden_size);
    EXPECT_EQ(arch.guidance_embed, model == "flux-dev-tiny");
    const auto dir = test::flux_transformer_dir(set, model);
    EXPECT_EQ(models::flux_config_from_json_file(dir + "/config.json"), arch);
    EXPECT_EQ(models::flux_config_from_json_file(set.model_path(model, "arch")), arch);
    const auto single = test::open_flux_single_file(set, model);
    EXPECT_EQ(single.layout, "bfl");
    EXPECT_EQ(models::flux_config_from_shapes(single.shape_of, arch.axes_dim), arch);
    // The RoPE split is not stored: a head_dim other than FLUX.1's 128 needs it given.
    EXPECT_NE(
        message_of([&] { models::flux_config_from_shapes(single.shape_of); }).find("axes_dim"),
        std::string::npos);
    const auto folder = models::open_flux_diffusers_folder(dir);
    EXPECT_EQ(models::flux_config_from_shapes(folder.shape_of, arch.axes_dim), arch);
  }
}

// The real FLUX.1-dev's shapes (no data needed) give its published hyperparameters.
TEST(FluxConfig, DetectsTheRealDevModel) {
  const std::map<std::string, std::vector<int64_t>> shapes{
      {"img_in.weight", {3072, 64}},
      {"txt_in.weight", {3072, 4096}},
      {"vector_in.in_layer.weight", {3072, 768}},
      {"guidance_in.in_layer.bias", {3072}},
      {"final_layer.linear.weight", {64, 3072}},
      {"double_blocks.0.img_attn.norm.query_norm.scale", {128}},
      {"double_blocks.0.img_mlp.0.weight", {12288, 3072}},
  };
  const auto lookup = [&](const std::string& name) -> std::optional<std::vector<int64_t>> {
    if (auto it = shapes.find(name); it != shapes.end()) return it->second;
    // 19 double and 38 single blocks.
    for (int i = 0; i < 38; ++i) {
      if (i < 19 && name == "double_blocks." + std::to_string(i) + ".img_attn.qkv.weight")
        return std::vector<int64_t>{9216, 3072};
      if (name == "single_blocks." + std::to_string(i) + ".linear1.weight")
        return std::vector<int64_t>{21504, 3072};
    }
    return std::nullopt;
  };
  EXPECT_EQ(models::flux_config_from_shapes(lookup), FluxConfig{});
}

TEST(FluxConfig, RejectsInconsistentValues) {
  FluxConfig c;
  c.axes_dim = {16, 56, 54};
  EXPECT_THROW(c.validate(), Error);
  c = FluxConfig{};
  c.num_heads = 23;
  EXPECT_THROW(c.validate(), Error);
  EXPECT_THROW(models::flux_config_from_diffusers({{"num_layers", 2}, {"patch_size", 2}}), Error);
}

TEST(FluxKeys, MapMatchesTheArchitectureJson) {
  DD_REQUIRE_FLUX_FIXTURES();
  const auto arch = test::flux_arch(test::flux_fixtures(), "flux-dev-tiny");
  int checked = 0;
  for (const auto& [bfl, keys] : arch.at("bfl_key_map").items()) {
    const auto parts = models::flux_diffusers_parts(bfl);
    EXPECT_EQ(parts.keys, keys.get<std::vector<std::string>>()) << bfl;
    EXPECT_EQ(parts.swap_halves, bfl.rfind("final_layer.adaLN_modulation.1.", 0) == 0) << bfl;
    ++checked;
  }
  EXPECT_EQ(checked, 84);
  EXPECT_THROW(models::flux_diffusers_parts("double_blocks.0.img_attn.qkv.scale"), Error);
  EXPECT_THROW(models::flux_diffusers_parts("unet.conv_in.weight"), Error);
}

// The adapter rebuilds every BFL tensor of the single file exactly from the diffusers folder.
TEST(FluxKeys, DiffusersAdapterReproducesTheBflFile) {
  DD_REQUIRE_FLUX_FIXTURES();
  const auto& set = test::flux_fixtures();
  const io::SafetensorsFile bfl(set.model_path("flux-dev-tiny", "single_file"));
  const auto folder =
      models::open_flux_diffusers_folder(test::flux_transformer_dir(set, "flux-dev-tiny"));
  for (const auto& entry : bfl.entries()) {
    ASSERT_TRUE(folder.source->has(entry.name)) << entry.name;
    EXPECT_EQ(*folder.shape_of(entry.name), entry.shape) << entry.name;
    EXPECT_TRUE(torch::equal(folder.source->get(entry.name),
                             io::load_tensor(bfl, entry).to(torch::kFloat32)))
        << entry.name;
  }
}

TEST(FluxKeys, DetectsThePrefix) {
  DD_REQUIRE_FLUX_FIXTURES();
  const auto& set = test::flux_fixtures();
  const auto path = test::write_prefixed_copy(set.model_path("flux-schnell-tiny", "single_file"),
                                              "model.diffusion_model.");
  const auto file = std::make_shared<const io::SafetensorsFile>(path);
  EXPECT_EQ(models::flux_bfl_prefix(*file), "model.diffusion_model.");
  EXPECT_FALSE(models::flux_diffusers_prefix(*file).has_value());
  const auto weights = models::open_flux_weights(file);
  EXPECT_EQ(weights.layout, "bfl, prefix 'model.diffusion_model.'");
  EXPECT_TRUE(weights.source->has("img_in.weight"));
  EXPECT_FALSE(weights.source->has("guidance_in.in_layer.bias"));
  fs::remove_all(fs::path(path).parent_path());

  const auto diffusers = std::make_shared<const io::SafetensorsFile>(
      test::flux_transformer_dir(set, "flux-schnell-tiny") +
      "/diffusion_pytorch_model.safetensors");
  EXPECT_EQ(models::open_flux_weights(diffusers).layout, "diffusers");
}

// A copy of `source` without `drop` and with `reshape` stored flattened.
std::string broken_copy(const std::string& source, const std::string& drop,
                        const std::string& reshape) {
  const io::SafetensorsFile file(source);
  io::NamedTensors tensors;
  for (const auto& entry : file.entries()) {
    if (entry.name == drop) continue;
    auto t = io::load_tensor(file, entry);
    tensors.emplace_back(entry.name, entry.name == reshape ? t.reshape({-1}) : t);
  }
  const auto dir =
      fs::temp_directory_path() / ("dd_flux_broken_" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  const auto path = (dir / fs::path(source).filename()).string();
  io::save_safetensors(path, tensors);
  return path;
}

TEST(FluxKeys, MissingOrMisshapedTensorsAreNamed) {
  DD_REQUIRE_FLUX_FIXTURES();
  const auto& set = test::flux_fixtures();
  const auto config = models::flux_config_from_arch_json(test::flux_arch(set, "flux-dev-tiny"));
  const auto load_message = [&](const std::string& path) {
    const auto weights =
        models::open_flux_weights(std::make_shared<const io::SafetensorsFile>(path));
    return message_of([&] { test::load_flux(config, weights); });
  };
  const auto single = set.model_path("flux-dev-tiny", "single_file");
  auto path = broken_copy(single, "single_blocks.1.norm.key_norm.scale", "");
  EXPECT_NE(load_message(path).find("single_blocks.1.norm.key_norm.scale"), std::string::npos)
      << load_message(path);
  path = broken_copy(single, "", "double_blocks.0.txt_attn.qkv.weight");
  EXPECT_NE(load_message(path).find("double_blocks.0.txt_attn.qkv.weight"), std::string::npos)
      << load_message(path);

  // Diffusers layout: the message names the missing diffusers key and the BFL tensor it feeds.
  const auto diffusers =
      test::flux_transformer_dir(set, "flux-dev-tiny") + "/diffusion_pytorch_model.safetensors";
  path = broken_copy(diffusers, "single_transformer_blocks.0.proj_mlp.bias", "");
  const auto message = load_message(path);
  EXPECT_NE(message.find("single_transformer_blocks.0.proj_mlp.bias"), std::string::npos)
      << message;
  EXPECT_NE(message.find("single_blocks.0.linear1.bias"), std::string::npos) << message;
  fs::remove_all(fs::path(path).parent_path());
}

}  // namespace
}  // namespace dd
