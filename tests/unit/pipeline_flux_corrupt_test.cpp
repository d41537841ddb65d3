// FLUX.1 loading from broken or incomplete inputs: a truncated transformer file, a transformer
// file whose parts are nowhere to be found, a T5 file missing a tensor. Each is one dd::Error
// saying what is wrong, never a crash or a half-loaded model.
#include <gtest/gtest.h>

#include <fstream>

#include "error_of.h"
#include "pipeline_flux_variants.h"
#include "test_support.h"

namespace dd::pipeline {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

const std::string kSchnell = "flux-schnell-tiny";

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void write_prefix_of(const std::string& from, const std::string& to, size_t bytes) {
  std::ifstream in(from, std::ios::binary);
  std::string data(bytes, '\0');
  in.read(data.data(), static_cast<std::streamsize>(bytes));
  std::ofstream(to, std::ios::binary).write(data.data(), static_cast<std::streamsize>(bytes));
}

ModelSource transformer_file(const std::string& path) {
  ModelSource source;
  source.path = path;
  source.config_json = test::flux_arch_json(kSchnell);
  source.components_dir = test::flux_folder(kSchnell);
  return source;
}

TEST(FluxCorrupt, ATruncatedTransformerFile) {
  DD_REQUIRE_FLUX_FIXTURES();
  TempDir dir;
  const std::string file = dir.file("flux1-schnell.safetensors");
  const auto size = fs::file_size(test::flux_bfl_file(kSchnell));
  // Inside the header, inside the data, one byte short.
  for (size_t cut : {size_t{100}, size / 2, size - 1}) {
    write_prefix_of(test::flux_bfl_file(kSchnell), file, cut);
    const std::string message =
        test::error_of([&] { test::load_flux_model(transformer_file(file)); });
    EXPECT_TRUE(contains(message, file)) << cut << ": " << message;
  }
}

// Every part given except `missing` (by its sidecar key), nothing to find it in.
ModelSource all_parts_but(const std::string& missing, const std::string& transformer) {
  ModelSource source;
  source.path = transformer;
  source.config_json = test::flux_arch_json(kSchnell);
  const std::string folder = test::flux_folder(kSchnell);
  if (missing != "vae") source.vae_path = folder + "/vae";
  if (missing != "clip_l") source.clip_path = test::flux_clip_file();
  if (missing != "t5xxl") source.t5_path = test::flux_t5_file();
  if (missing != "clip_tokenizer") source.clip_tokenizer_dir = folder + "/tokenizer";
  if (missing != "t5_tokenizer") source.t5_tokenizer_path = folder + "/tokenizer_2";
  return source;
}

TEST(FluxCorrupt, APartThatCannotBeFoundIsNamedWithItsSidecarKey) {
  DD_REQUIRE_FLUX_FIXTURES();
  TempDir dir;
  const std::string file = dir.file("flux1-schnell.safetensors");
  fs::copy_file(test::flux_bfl_file(kSchnell), file);
  const std::pair<const char*, const char*> parts[] = {{"vae", "VAE"},
                                                       {"clip_l", "CLIP text encoder"},
                                                       {"t5xxl", "T5 encoder"},
                                                       {"clip_tokenizer", "CLIP tokenizer"},
                                                       {"t5_tokenizer", "T5 tokenizer"}};
  for (const auto& [key, what] : parts) {
    const std::string message =
        test::error_of([&] { test::load_flux_model(all_parts_but(key, file)); });
    EXPECT_TRUE(contains(message, what)) << key << ": " << message;
    EXPECT_TRUE(contains(message, "'" + std::string(key) + "'")) << key << ": " << message;
    // Where it looked: the folder named like the file beside it.
    EXPECT_TRUE(contains(message, (dir.path() / "flux1-schnell").string())) << message;
  }
  // All found, the same file loads.
  EXPECT_NO_THROW(test::load_flux_model(all_parts_but("", file)));
}

TEST(FluxCorrupt, ANamedPartThatDoesNotExist) {
  DD_REQUIRE_FLUX_FIXTURES();
  TempDir dir;
  auto source = transformer_file(test::flux_bfl_file(kSchnell));
  source.vae_path = dir.file("ae.safetensors");
  const std::string message = test::error_of([&] { test::load_flux_model(source); });
  EXPECT_TRUE(contains(message, source.vae_path) && contains(message, "VAE")) << message;
}

TEST(FluxCorrupt, AT5FileMissingATensor) {
  DD_REQUIRE_FLUX_FIXTURES();
  TempDir dir;
  const std::string missing = "encoder.block.1.layer.1.DenseReluDense.wo.weight";
  io::NamedTensors tensors;
  for (auto& t : test::read_tensors(test::flux_t5_file()))
    if (t.first != missing) tensors.push_back(std::move(t));
  ASSERT_EQ(tensors.size() + 1, test::read_tensors(test::flux_t5_file()).size());
  auto source = transformer_file(test::flux_bfl_file(kSchnell));
  source.t5_path = dir.file("t5xxl.safetensors");
  io::save_safetensors(source.t5_path, tensors);
  const std::string message = test::error_of([&] { test::load_flux_model(source); });
  EXPECT_TRUE(contains(message, missing)) << message;
  EXPECT_TRUE(contains(message, source.t5_path)) << message;
}

TEST(FluxCorrupt, ATransformerFileMissingATensor) {
  DD_REQUIRE_FLUX_FIXTURES();
  TempDir dir;
  const std::string missing = "single_blocks.1.linear2.weight";
  io::NamedTensors tensors;
  for (auto& t : test::read_tensors(test::flux_bfl_file(kSchnell)))
    if (t.first != missing) tensors.push_back(std::move(t));
  const std::string file = dir.file("flux1-schnell.safetensors");
  io::save_safetensors(file, tensors);
  const std::string message =
      test::error_of([&] { test::load_flux_model(transformer_file(file)); });
  EXPECT_TRUE(contains(message, "single_blocks.1.linear2")) << message;
}

}  // namespace
}  // namespace dd::pipeline
