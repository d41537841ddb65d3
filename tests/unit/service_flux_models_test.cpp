// FLUX.1 models in the models directory, without loading them: diffusers folders, BFL
// transformer-only files (with or without ComfyUI's prefix) whose sidecar names their parts,
// GGUF files; the family each is listed with (FLUX.1 Fill is inpainting-only) and the default
// model choice. Loading them is service_flux_models_load_test.cpp.
#include "service_flux_models.h"

#include <gtest/gtest.h>

#include "service/model_scan.h"
#include "util/error.h"

namespace dd::service {
namespace {

namespace fs = std::filesystem;
using test::FluxModelsDir;

TEST_F(FluxModelsDir, ListsFoldersTransformerFilesAndGgufFiles) {
  add_schnell_folder("flux-schnell-tiny");
  add_schnell_file("schnell-parts", R"({"vae": "flux-schnell-tiny/vae",
      "clip_l": "flux-schnell-tiny/text_encoder/model.safetensors",
      "t5xxl": "flux-schnell-tiny/text_encoder_2/model.safetensors",
      "t5_tokenizer": "flux-schnell-tiny/tokenizer_2", "clip_tokenizer": "flux-schnell-tiny/tokenizer"})");
  add_schnell_file("schnell-components", R"({"components": "flux-schnell-tiny", "drop_t5": true})");
  add_flux_gguf("flux-q", 64);
  const auto found = scan_models_dir(dir_);
  std::vector<std::string> ids;
  for (const auto& [id, info] : found) ids.push_back(id);
  EXPECT_EQ(ids, (std::vector<std::string>{"flux-q", "flux-schnell-tiny", "schnell-components",
                                           "schnell-parts"}));
  for (const auto& [id, info] : found) {
    EXPECT_TRUE(info.available()) << id << ": " << info.error;
    EXPECT_EQ(info.family, "flux") << id;
    EXPECT_TRUE(info.serves_text_to_image()) << id;
  }
  EXPECT_EQ(found.at("flux-q").path, (dir_ / "flux-q.gguf").string());
  EXPECT_EQ(found.at("flux-schnell-tiny").path, (dir_ / "flux-schnell-tiny").string());
}

TEST_F(FluxModelsDir, TheSidecarsPartsReachTheModelInfo) {
  add_schnell_folder("flux-schnell-tiny");
  add_schnell_file("schnell-parts", R"({"vae": "flux-schnell-tiny/vae",
      "clip_l": "flux-schnell-tiny/text_encoder/model.safetensors",
      "t5xxl": "flux-schnell-tiny/text_encoder_2/model.safetensors",
      "t5_tokenizer": "flux-schnell-tiny/tokenizer_2", "clip_tokenizer": "flux-schnell-tiny/tokenizer"})");
  add_schnell_file("schnell-components", R"({"components": "flux-schnell-tiny", "drop_t5": true})");
  auto models = registry();
  const auto parts = models.find("schnell-parts")->flux_parts;
  const fs::path folder = dir_ / "flux-schnell-tiny";
  EXPECT_EQ(parts.vae, (folder / "vae").string());
  EXPECT_EQ(parts.clip_l, (folder / "text_encoder" / "model.safetensors").string());
  EXPECT_EQ(parts.t5xxl, (folder / "text_encoder_2" / "model.safetensors").string());
  EXPECT_EQ(parts.t5_tokenizer, (folder / "tokenizer_2").string());
  EXPECT_EQ(parts.clip_tokenizer, (folder / "tokenizer").string());
  EXPECT_EQ(parts.components, "");
  EXPECT_FALSE(parts.drop_t5);
  const auto components = models.find("schnell-components")->flux_parts;
  EXPECT_EQ(components.components, folder.string());
  EXPECT_TRUE(components.drop_t5);
  EXPECT_EQ(components.vae, "");

  // What the loader is given (the registry's and the CLI's loads).
  const auto source = model_source(*models.find("schnell-parts"), torch::kBFloat16);
  EXPECT_EQ(source.path, (dir_ / "schnell-parts.safetensors").string());
  EXPECT_EQ(source.dtype, torch::kBFloat16);
  EXPECT_EQ(source.vae_path, parts.vae);
  EXPECT_EQ(source.clip_path, parts.clip_l);
  EXPECT_EQ(source.t5_path, parts.t5xxl);
  EXPECT_EQ(source.t5_tokenizer_path, parts.t5_tokenizer);
  EXPECT_EQ(source.clip_tokenizer_dir, parts.clip_tokenizer);
  const auto with_components = model_source(*models.find("schnell-components"), torch::kFloat32);
  EXPECT_EQ(with_components.components_dir, folder.string());
  EXPECT_TRUE(with_components.drop_t5_after_encoding);
}

TEST_F(FluxModelsDir, FillModelsAreInpaintingOnly) {
  DD_REQUIRE_FLUX_FILL_FIXTURES();
  add_fill_folder("flux-fill-dev-tiny");
  add_fill_file("fill-bfl", "");
  add_prefixed_fill_file("fill-comfy");  // ComfyUI's model.diffusion_model. keys, no arch file
  add_flux_gguf("fill-q", 384);
  add_schnell_folder("z-schnell");
  auto models = registry();
  for (const char* id : {"flux-fill-dev-tiny", "fill-bfl", "fill-comfy", "fill-q"}) {
    const auto info = models.find(id);
    ASSERT_TRUE(info) << id;
    EXPECT_TRUE(info->available()) << id << ": " << info->error;
    EXPECT_EQ(info->family, "flux-inpaint") << id;
    EXPECT_FALSE(info->serves_text_to_image()) << id;
  }
  // The automatic default is the one model that can serve text-to-image.
  EXPECT_EQ(models.default_model_id(), "z-schnell");
}

TEST_F(FluxModelsDir, AFolderWinsOverAFileAndAFileOverAGguf) {
  add_schnell_folder("same");
  add_schnell_file("same", "");
  add_schnell_file("pair", "");
  add_flux_gguf("pair", 64);
  const auto found = scan_models_dir(dir_);
  EXPECT_EQ(found.size(), 2u);
  EXPECT_EQ(found.at("same").path, (dir_ / "same").string());
  EXPECT_EQ(found.at("pair").path, (dir_ / "pair.safetensors").string());
}

TEST_F(FluxModelsDir, PartFilesASidecarNamesAreNoModels) {
  link(schnell_dir() / "vae" / "diffusion_pytorch_model.safetensors", "ae.safetensors");
  link(schnell_dir() / "text_encoder" / "model.safetensors", "clip_l.safetensors");
  link(schnell_dir() / "text_encoder_2" / "model.safetensors", "t5xxl_fp16.safetensors");
  add_schnell_file("flux1-schnell", R"({"vae": "ae.safetensors", "clip_l": "clip_l.safetensors",
      "t5xxl": "t5xxl_fp16.safetensors"})");
  const auto found = scan_models_dir(dir_);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found.begin()->first, "flux1-schnell");
  EXPECT_TRUE(found.begin()->second.available()) << found.begin()->second.error;
}

TEST_F(FluxModelsDir, UnreadableAndMisconfiguredFilesAreUnavailable) {
  write("broken.gguf", "GGUF but not really");
  add_schnell_file("outside", R"({"t5xxl": "../t5xxl.safetensors"})");
  add_schnell_file("missing", R"({"vae": "ae.safetensors"})");
  add_schnell_file("typo", R"({"t5": "flux-schnell-tiny/text_encoder_2"})");
  add_schnell_file("flag", R"({"drop_t5": "yes"})");
  add_schnell_file("number", R"({"clip_l": 3})");
  const auto found = scan_models_dir(dir_);
  const auto error_of = [&](const std::string& id) { return found.at(id).error; };
  EXPECT_NE(error_of("broken").find("unreadable checkpoint"), std::string::npos)
      << error_of("broken");
  EXPECT_NE(error_of("outside").find("outside.json: t5xxl must be a path inside the models"),
            std::string::npos)
      << error_of("outside");
  EXPECT_NE(error_of("missing").find("missing.json: vae 'ae.safetensors' does not exist"),
            std::string::npos)
      << error_of("missing");
  EXPECT_NE(error_of("typo").find("unknown field 't5'"), std::string::npos) << error_of("typo");
  EXPECT_NE(error_of("flag").find("drop_t5 must be true or false"), std::string::npos)
      << error_of("flag");
  EXPECT_NE(error_of("number").find("clip_l must be a string"), std::string::npos)
      << error_of("number");
}

// A transformer-only file with no parts named is listed (the scan reads no weights); its load
// says what is missing (service_flux_models_load_test.cpp).
TEST_F(FluxModelsDir, ATransformerFileWithoutPartsIsListedBeforeItsLoad) {
  add_schnell_file("lonely", "");
  const auto info = registry().find("lonely");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->family, "flux");
  EXPECT_TRUE(info->available());
  EXPECT_FALSE(info->loaded);
}

}  // namespace
}  // namespace dd::service
