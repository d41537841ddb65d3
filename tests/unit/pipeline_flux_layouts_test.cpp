// FLUX.1 from the layouts real releases come in, built from the tiny fixture models: BFL's
// transformer file with ae.safetensors (LDM names), clip_l, t5xxl and tokenizer folders named one
// by one or found in a components folder, and a ComfyUI all-in-one checkpoint. Each makes the
// same image as the diffusers folder (same weights: float16 values, float32 compute).
#include <gtest/gtest.h>

#include "pipeline_flux_variants.h"
#include "test_support.h"

namespace dd::pipeline {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

constexpr double kSameImage = 1e-5;

const char* const kModels[] = {"flux-schnell-tiny", "flux-dev-tiny"};

void expect_same_image(DiffusionModel& model, const torch::Tensor& want, const std::string& what) {
  const auto got = test::flux_images(model);
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  EXPECT_LE(io::max_abs_diff(got, want), kSameImage) << what;
}

TEST(FluxLayouts, BflTransformerWithEachPartNamed) {
  DD_REQUIRE_FLUX_FIXTURES();
  for (const std::string name : kModels) {
    const auto want = test::flux_images(*test::load_flux_folder(name));
    TempDir dir;
    fs::copy_file(test::flux_bfl_file(name), dir.file("flux1.safetensors"));
    io::save_safetensors(dir.file("ae.safetensors"), test::ldm_vae_tensors());
    fs::copy_file(test::flux_clip_file(), dir.file("clip_l.safetensors"));
    fs::copy_file(test::flux_t5_file(), dir.file("t5xxl.safetensors"));
    fs::create_directory(dir.path() / "tokenizers");
    test::copy_tokenizers(dir.path() / "tokenizers");

    ModelSource source;
    source.path = dir.file("flux1.safetensors");
    source.config_json = test::flux_arch_json(name);
    source.vae_path = dir.file("ae.safetensors");
    source.clip_path = dir.file("clip_l.safetensors");
    source.t5_path = dir.file("t5xxl.safetensors");
    source.clip_tokenizer_dir = dir.file("tokenizers/tokenizer");
    source.t5_tokenizer_path = dir.file("tokenizers/tokenizer_2");
    const auto model = test::load_flux_model(source);
    ASSERT_TRUE(model->config().is_flux());
    EXPECT_EQ(model->config().flux.guidance_embed, name == "flux-dev-tiny");
    expect_same_image(*model, want, name + " from parts");
  }
}

TEST(FluxLayouts, BflTransformerWithAComponentsFolder) {
  DD_REQUIRE_FLUX_FIXTURES();
  for (const std::string name : kModels) {
    const auto want = test::flux_images(*test::load_flux_folder(name));
    TempDir dir;
    // The architecture file beside the transformer, as the tiny test models ship it.
    fs::copy_file(test::flux_bfl_file(name), dir.file("flux1.safetensors"));
    fs::copy_file(test::flux_arch_json(name), dir.file("flux1.arch.json"));
    ModelSource source;
    source.path = dir.file("flux1.safetensors");
    source.components_dir = test::flux_folder(name);
    expect_same_image(*test::load_flux_model(source), want, name + " with components_dir");
  }
}

TEST(FluxLayouts, BflTransformerWithItsDiffusersFolderBesideIt) {
  DD_REQUIRE_FLUX_FIXTURES();
  const std::string name = "flux-schnell-tiny";
  const auto want = test::flux_images(*test::load_flux_folder(name));
  TempDir dir;
  fs::copy_file(test::flux_bfl_file(name), dir.file("flux1.safetensors"));
  fs::create_directory_symlink(test::flux_folder(name), dir.path() / "flux1");
  ModelSource source;
  source.path = dir.file("flux1.safetensors");
  source.config_json = test::flux_arch_json(name);
  expect_same_image(*test::load_flux_model(source), want, "folder beside the file");
}

// One safetensors file as ComfyUI saves a FLUX checkpoint: transformer, both text encoders and
// the VAE under their prefixes; only the tokenizers come from elsewhere.
std::string write_all_in_one(const TempDir& dir, const std::string& name) {
  io::NamedTensors all = test::read_tensors(test::flux_bfl_file(name), "model.diffusion_model.");
  for (auto& t : test::read_tensors(test::flux_clip_file(), "text_encoders.clip_l.transformer."))
    all.push_back(std::move(t));
  for (auto& t : test::read_tensors(test::flux_t5_file(), "text_encoders.t5xxl.transformer."))
    all.push_back(std::move(t));
  for (auto& t : test::ldm_vae_tensors("first_stage_model.")) all.push_back(std::move(t));
  const std::string path = dir.file("flux1-checkpoint.safetensors");
  io::save_safetensors(path, all);
  return path;
}

TEST(FluxLayouts, ComfyUiAllInOneCheckpoint) {
  DD_REQUIRE_FLUX_FIXTURES();
  for (const std::string name : kModels) {
    const auto want = test::flux_images(*test::load_flux_folder(name));
    TempDir dir;
    ModelSource source;
    source.path = write_all_in_one(dir, name);
    source.config_json = test::flux_arch_json(name);
    // Only tokenizers here: a part looked for outside the checkpoint would not be found.
    fs::create_directory(dir.path() / "components");
    test::copy_tokenizers(dir.path() / "components");
    source.components_dir = dir.file("components");
    const auto model = test::load_flux_model(source);
    EXPECT_EQ(model->config().flux.guidance_embed, name == "flux-dev-tiny");
    expect_same_image(*model, want, name + " all-in-one");
  }
}

TEST(FluxLayouts, ASeparatePartWinsOverTheCheckpointsOwn) {
  DD_REQUIRE_FLUX_FIXTURES();
  const std::string name = "flux-schnell-tiny";
  const auto want = test::flux_images(*test::load_flux_folder(name));
  TempDir dir;
  ModelSource source;
  source.path = write_all_in_one(dir, name);
  source.config_json = test::flux_arch_json(name);
  source.components_dir = test::flux_folder(name);
  source.vae_path = test::flux_folder(name) + "/vae";
  source.t5_path = test::flux_t5_file();
  expect_same_image(*test::load_flux_model(source), want, "all-in-one with named parts");
}

}  // namespace
}  // namespace dd::pipeline
