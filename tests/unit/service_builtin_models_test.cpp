// The repository's models/ folder as `diffusiond train` leaves it — a diffusers folder with its
// training record inside, a sidecar beside it, a README — scans to exactly one available model
// with the sidecar's defaults, and that model is the default. No weights needed: the registry
// reads only configs until a model is used.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "service/crypto.h"
#include "service/model_registry.h"

namespace dd::service {
namespace {

namespace fs = std::filesystem;

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

TEST(BuiltinModelsFolder, ReadmeAndTrainingFilesAreNotModels) {
  const fs::path dir = fs::temp_directory_path() / ("dd-builtin-models-" + random_hex(8));
  const fs::path model = dir / "diffusiond-scenes";
  write(dir / "README.md", "# models\nThe built-in model, trained by diffusiond train.\n");
  write(dir / ".gitattributes", "*.safetensors filter=lfs\n");
  write(dir / "diffusiond-scenes.json",
        R"({"description": "scenes", "defaults": {"width": 64, "height": 64, "steps": 20}})");
  write(model / "model_index.json", R"({"_class_name": "StableDiffusionPipeline"})");
  write(model / "unet" / "config.json", R"({"sample_size": 16})");
  write(model / "training.json", R"({"steps": 1000, "seed": 0})");
  write(model / "README.md", "how it was trained\n");

  const ModelRegistry registry(dir.string(), 0, torch::kFloat32);
  const auto models = registry.list();
  ASSERT_EQ(models.size(), 1u);
  EXPECT_EQ(models[0].id, "diffusiond-scenes");
  EXPECT_TRUE(models[0].available()) << models[0].error;
  EXPECT_EQ(models[0].defaults.width, 64);
  EXPECT_EQ(models[0].defaults.height, 64);
  EXPECT_EQ(models[0].defaults.steps, 20);
  EXPECT_EQ(models[0].family, "sd1");
  EXPECT_EQ(registry.default_model_id(), "diffusiond-scenes");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace dd::service
