// The registry's automatic default model is one that can serve text-to-image (not an
// inpainting-only model, not an unreadable checkpoint, not one that failed to load), and a name
// not found makes it look at the models directory again (rate-limited).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "service/crypto.h"
#include "service/model_registry.h"
#include "test_support.h"
#include "util/error.h"

namespace dd::service {
namespace {

namespace fs = std::filesystem;

class ModelDefaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DD_REQUIRE_FIXTURES();
    fixtures_ = fs::path(test::fixtures_dir()) / "models";
    dir_ = fs::temp_directory_path() / ("dd-default-" + random_hex(8));
    fs::create_directories(dir_);
  }

  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // The tiny SD 1.5 model as a diffusers folder named `id` (loads with its own tokenizer).
  void add_plain(const std::string& id) {
    fs::create_directory_symlink(fixtures_ / "sd15-tiny", dir_ / id);
  }
  // The tiny inpainting model as a single file with its architecture (family sd1-inpaint).
  void add_inpaint_file(const std::string& id) {
    fs::create_symlink(fixtures_ / "sd15-inpaint-tiny.safetensors", dir_ / (id + ".safetensors"));
    fs::create_symlink(fixtures_ / "sd15-inpaint-tiny.arch.json", dir_ / (id + ".arch.json"));
  }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }

  ModelRegistry registry(const std::string& default_model = "") {
    return ModelRegistry(dir_.string(), 0, torch::kFloat32, default_model);
  }

  fs::path fixtures_;
  fs::path dir_;
};

TEST_F(ModelDefaultTest, AnInpaintingModelIsNotTheDefault) {
  add_inpaint_file("a-inpaint-file");
  fs::create_directory_symlink(fixtures_ / "sd15-inpaint-tiny", dir_ / "a-inpaint-folder");
  add_plain("b-plain");
  auto models = registry();
  EXPECT_EQ(models.find("a-inpaint-file")->family, "sd1-inpaint");
  EXPECT_EQ(models.find("a-inpaint-folder")->family, "sd1-inpaint");
  EXPECT_TRUE(models.find("a-inpaint-file")->available());
  EXPECT_FALSE(models.find("a-inpaint-file")->serves_text_to_image());
  EXPECT_EQ(models.default_model_id(), "b-plain");
  // An explicit choice is the operator's.
  EXPECT_EQ(registry("a-inpaint-file").default_model_id(), "a-inpaint-file");
}

TEST_F(ModelDefaultTest, AnUnreadableCheckpointIsUnavailableAndNotTheDefault) {
  write("a-corrupt.safetensors", "this is not a checkpoint");
  add_plain("b-plain");
  auto models = registry();
  const auto corrupt = models.find("a-corrupt");
  ASSERT_TRUE(corrupt);
  EXPECT_FALSE(corrupt->available());
  EXPECT_NE(corrupt->error.find("unreadable checkpoint"), std::string::npos) << corrupt->error;
  EXPECT_EQ(models.default_model_id(), "b-plain");
  EXPECT_THROW(registry("a-corrupt"), Error);  // an explicit default stays strict
}

TEST_F(ModelDefaultTest, OnlyUnusableModelsLeaveNoDefault) {
  write("a-corrupt.safetensors", "this is not a checkpoint");
  add_inpaint_file("b-inpaint");
  EXPECT_EQ(registry().default_model_id(), "");
}

TEST_F(ModelDefaultTest, AFastModelIsTheDefaultOnlyWhenNoOtherCanServe) {
  add_inpaint_file("a-inpaint");
  fs::create_directory_symlink(fixtures_ / "sd15-tiny", dir_ / "b-turbo");
  EXPECT_EQ(registry().default_model_id(), "b-turbo");
  add_plain("c-plain");
  EXPECT_EQ(registry().default_model_id(), "c-plain");
}

// A readable safetensors file that is no checkpoint (a LoRA) fails only when it loads.
TEST_F(ModelDefaultTest, ADefaultThatFailsToLoadGivesWayAndStaysFailedUntilItsFileChanges) {
  fs::copy_file(fixtures_ / "lora" / "sd15-tiny-lora.safetensors", dir_ / "a-lora.safetensors");
  add_plain("b-plain");
  auto models = registry();
  EXPECT_EQ(models.default_model_id(), "a-lora");
  EXPECT_THROW(models.acquire(""), Error);
  EXPECT_FALSE(models.find("a-lora")->available());
  EXPECT_EQ(models.default_model_id(), "b-plain");
  EXPECT_TRUE(models.acquire(""));

  models.rescan();  // nothing changed: the failure is remembered
  EXPECT_FALSE(models.find("a-lora")->available());
  EXPECT_EQ(models.default_model_id(), "b-plain");
  EXPECT_TRUE(models.find("b-plain")->loaded);

  const auto file = dir_ / "a-lora.safetensors";
  fs::last_write_time(file, fs::last_write_time(file) + std::chrono::seconds(5));
  models.rescan();  // replaced: tried again
  EXPECT_TRUE(models.find("a-lora")->available());
}

TEST_F(ModelDefaultTest, AnUnknownNameRescansAtMostOncePerInterval) {
  add_plain("b-plain");
  auto models = registry();
  add_plain("added");
  const auto added = models.find("added");
  ASSERT_TRUE(added);
  EXPECT_EQ(added->path, (dir_ / "added").string());
  add_plain("later");
  EXPECT_FALSE(models.find("later"));  // too soon after the rescan of the last miss
  EXPECT_FALSE(models.find("nothing-by-this-name"));
  models.rescan();
  EXPECT_TRUE(models.find("later"));
}

TEST_F(ModelDefaultTest, AModelAddedToAnEmptyFolderBecomesTheDefault) {
  auto models = registry();
  EXPECT_EQ(models.default_model_id(), "");
  add_plain("first");
  models.rescan();
  EXPECT_EQ(models.default_model_id(), "first");
}

}  // namespace
}  // namespace dd::service
