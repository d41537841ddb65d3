// Sharded diffusers components, as the real FLUX.1 repos ship their transformer and T5 encoder:
// the fixture models' files split into two shards with an index load the same tensors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "error_of.h"
#include "io/tensor_file.h"
#include "models/component_files.h"
#include "models/flux_keys.h"
#include "models/t5_keys.h"
#include "test_support.h"

namespace dd::models {
namespace {

namespace fs = std::filesystem;

std::string fixture_component(const std::string& component) {
  return test::flux_fixtures().model_path("flux-schnell-tiny", "diffusers_dir") + "/" + component;
}

// `source` split in two shards named after `stem` in a fresh folder, with the index diffusers
// writes; returns the folder.
fs::path sharded_copy(const std::string& source, const std::string& stem) {
  const io::SafetensorsFile file(source);
  const fs::path dir =
      fs::temp_directory_path() / ("dd_shards_" + std::to_string(::getpid()) + "_" + stem);
  fs::remove_all(dir);
  fs::create_directories(dir);
  io::NamedTensors halves[2];
  nlohmann::json map = nlohmann::json::object();
  const auto& entries = file.entries();
  for (size_t i = 0; i < entries.size(); ++i) {
    const int half = i < entries.size() / 2 ? 0 : 1;
    halves[half].emplace_back(entries[i].name, io::load_tensor(file, entries[i]));
    map[entries[i].name] = stem + "-0000" + std::to_string(half + 1) + "-of-00002.safetensors";
  }
  for (int half = 0; half < 2; ++half)
    io::save_safetensors(
        (dir / (stem + "-0000" + std::to_string(half + 1) + "-of-00002.safetensors")).string(),
        halves[half]);
  std::ofstream(dir / (stem + ".safetensors.index.json")) << nlohmann::json{{"weight_map", map}};
  return dir;
}

TEST(ComponentFiles, AShardedT5FolderServesEveryTensorOfTheSingleFile) {
  DD_REQUIRE_FLUX_FIXTURES();
  const std::string single = fixture_component("text_encoder_2") + "/model.safetensors";
  const fs::path dir = sharded_copy(single, "model");
  const auto shards = component_weight_files(dir.string());
  ASSERT_EQ(shards.size(), 2u);
  const auto sharded = t5_encoder_weights(shards);
  const auto whole = std::make_shared<const io::SafetensorsFile>(single);
  const auto reference = t5_encoder_weights(whole, "");
  for (const auto& entry : whole->entries()) {
    ASSERT_TRUE(sharded->has(entry.name)) << entry.name;
    EXPECT_TRUE(torch::equal(sharded->get(entry.name), reference->get(entry.name))) << entry.name;
  }
  EXPECT_FALSE(sharded->has("encoder.block.99.layer.0.SelfAttention.q.weight"));
  fs::remove_all(dir);
}

TEST(ComponentFiles, AShardedTransformerFolderServesTheBflTensorsOfTheSingleFile) {
  DD_REQUIRE_FLUX_FIXTURES();
  const fs::path dir =
      sharded_copy(fixture_component("transformer") + "/diffusion_pytorch_model.safetensors",
                   "diffusion_pytorch_model");
  const auto sharded = open_flux_diffusers_folder(dir.string());
  const auto whole = open_flux_diffusers_folder(fixture_component("transformer"));
  EXPECT_EQ(sharded.layout, "diffusers (sharded)");
  const io::SafetensorsFile bfl(
      test::flux_fixtures().model_path("flux-schnell-tiny", "single_file"));
  for (const auto& entry : bfl.entries())
    EXPECT_TRUE(torch::equal(sharded.source->get(entry.name), whole.source->get(entry.name)))
        << entry.name;
  fs::remove_all(dir);
}

TEST(ComponentFiles, ABadIndexOrAnEmptyFolderIsAClearError) {
  const fs::path dir = fs::temp_directory_path() / ("dd_badshards_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  EXPECT_NE(
      test::error_of([&] { component_weight_files(dir.string()); }).find("no .safetensors weights"),
      std::string::npos);
  std::ofstream(dir / "model.safetensors.index.json")
      << R"({"weight_map": {"shared.weight": "../elsewhere.safetensors"}})";
  EXPECT_NE(
      test::error_of([&] { component_weight_files(dir.string()); }).find("outside its folder"),
      std::string::npos);
  std::ofstream(dir / "model.safetensors.index.json") << R"({"no_map": 1})";
  EXPECT_NE(test::error_of([&] { component_weight_files(dir.string()); }).find("not a shard index"),
            std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace dd::models
