// ModelRegistry over a temporary models directory built from the tiny fixture models:
// listing, sidecars (aliases, defaults, errors), lazy loading, LRU unloading, LoRA files.
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

class ModelRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DD_REQUIRE_FIXTURES();
    const fs::path models = fs::path(test::fixtures_dir()) / "models";
    dir_ = fs::temp_directory_path() / ("dd-registry-" + random_hex(8));
    fs::create_directories(dir_ / "loras");
    fs::create_directory_symlink(models / "sd15-tiny", dir_ / "sd15-tiny");
    // The same single-file checkpoint under three names (tokenizer from the folder above).
    for (const char* name : {"single", "fast", "third", "broken"}) {
      fs::create_symlink(models / "sd15-tiny.safetensors",
                         dir_ / (std::string(name) + ".safetensors"));
      fs::create_symlink(models / "sd15-tiny.arch.json", dir_ / (std::string(name) + ".arch.json"));
    }
    write("single.json", R"({"aliases": ["Tiny-Single", "org/tiny"], "tokenizer": "sd15-tiny",
        "description": "one file", "defaults": {"steps": 3, "cfg": 5, "sampler": "DPM++ 2M",
        "width": 64, "height": 96}})");
    write("fast.json", R"({"fast": true, "tokenizer": "sd15-tiny"})");
    write("third.json", R"({"tokenizer": "sd15-tiny"})");
    write("broken.json", R"({"defaults": {"steps": "many"}})");
    fs::create_symlink(models / "lora" / "sd15-tiny-lora.safetensors",
                       dir_ / "loras" / "sd15-tiny-lora.safetensors");
    write("notes.txt", "not a model");
    fs::create_directory(dir_ / "empty-folder");
  }

  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }

  ModelRegistry registry(size_t budget = 0, const std::string& default_model = "") {
    return ModelRegistry(dir_.string(), budget, torch::kFloat32, default_model);
  }

  fs::path dir_;
};

TEST_F(ModelRegistryTest, ListsFilesAndFoldersWithSidecars) {
  const auto models = registry().list();
  std::vector<std::string> ids;
  for (const auto& m : models) ids.push_back(m.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"broken", "fast", "sd15-tiny", "single", "third"}));

  const auto single = registry().find("single");
  ASSERT_TRUE(single);
  EXPECT_TRUE(single->available());
  EXPECT_EQ(single->path, (dir_ / "single.safetensors").string());
  EXPECT_EQ(single->aliases, (std::vector<std::string>{"Tiny-Single", "org/tiny"}));
  EXPECT_EQ(single->description, "one file");
  EXPECT_EQ(single->family, "sd1");
  EXPECT_FALSE(single->loaded);
  EXPECT_EQ(single->defaults.steps, 3);
  EXPECT_EQ(single->defaults.cfg, 5.0);
  EXPECT_EQ(single->defaults.sampler, "dpmpp_2m");
  EXPECT_EQ(single->defaults.width, 64);
  EXPECT_EQ(single->defaults.height, 96);

  const auto folder = registry().find("sd15-tiny");
  ASSERT_TRUE(folder);
  EXPECT_EQ(folder->family, "sd1");
  EXPECT_EQ(folder->defaults.steps, std::nullopt);
  EXPECT_FALSE(folder->defaults.sampler);  // no sidecar: the engine's defaults apply
}

TEST_F(ModelRegistryTest, FastModelsGetLightningDefaults) {
  const auto fast = registry().find("fast");
  ASSERT_TRUE(fast);
  EXPECT_TRUE(fast->fast);
  EXPECT_EQ(fast->defaults.steps, 4);
  EXPECT_EQ(fast->defaults.cfg, 1.0);
  EXPECT_EQ(fast->defaults.sampler, "euler");
  EXPECT_EQ(fast->defaults.spacing, "trailing");
  EXPECT_EQ(registry().fast_model_id(), "fast");
}

// Without a sidecar, a file named like a few-step release is a fast model; a sidecar decides.
TEST_F(ModelRegistryTest, LightningAndTurboNamesMeanFastUnlessTheSidecarSaysNo) {
  const fs::path models = fs::path(test::fixtures_dir()) / "models";
  for (const char* name : {"SDXL-Lightning-4step", "sdxl-turbo", "not-lightning"})
    fs::create_symlink(models / "sdxl-tiny.safetensors",
                       dir_ / (std::string(name) + ".safetensors"));
  write("not-lightning.json", R"({"fast": false})");
  for (const char* name : {"SDXL-Lightning-4step", "sdxl-turbo"}) {
    const auto info = registry().find(name);
    ASSERT_TRUE(info) << name;
    EXPECT_TRUE(info->fast) << name;
    EXPECT_EQ(info->defaults.steps, 4) << name;
    EXPECT_EQ(info->defaults.spacing, "trailing") << name;
  }
  const auto plain = registry().find("not-lightning");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->fast);
  EXPECT_EQ(plain->defaults.steps, std::nullopt);
}

TEST_F(ModelRegistryTest, AliasesAreCaseInsensitive) {
  auto models = registry();
  EXPECT_EQ(models.find("tiny-single")->id, "single");
  EXPECT_EQ(models.find("ORG/TINY")->id, "single");
  EXPECT_EQ(models.find("SD15-TINY")->id, "sd15-tiny");
  EXPECT_FALSE(models.find("nope"));
  EXPECT_FALSE(models.find(""));
  EXPECT_FALSE(models.find("../sd15-tiny"));
}

TEST_F(ModelRegistryTest, DefaultModel) {
  // Without a choice: the first available model that is not a fast one.
  EXPECT_EQ(registry().default_model_id(), "sd15-tiny");
  EXPECT_EQ(registry(0, "Tiny-Single").default_model_id(), "single");
  EXPECT_THROW(registry(0, "missing"), Error);
  EXPECT_THROW(registry(0, "broken"), Error);
}

TEST_F(ModelRegistryTest, BadSidecarsMakeOnlyThatModelUnavailable) {
  write("third.json", R"({"aliases": ["SINGLE"], "tokenizer": "sd15-tiny"})");
  write("fast.json", R"({"tokenizer": "../../etc"})");
  fs::create_symlink(dir_ / "single.safetensors", dir_ / "typo.safetensors");
  write("typo.json", R"({"steps": 4})");
  fs::create_symlink(dir_ / "single.safetensors", dir_ / "notjson.safetensors");
  write("notjson.json", "{oops");
  auto models = registry();
  const auto error_of = [&](const std::string& id) { return models.find(id)->error; };
  EXPECT_NE(error_of("broken").find("broken.json: defaults: 'steps' must be an integer"),
            std::string::npos)
      << error_of("broken");
  EXPECT_NE(error_of("third").find("alias 'SINGLE' already names model 'single'"),
            std::string::npos)
      << error_of("third");
  EXPECT_NE(error_of("fast").find("tokenizer must be a path inside the models directory"),
            std::string::npos)
      << error_of("fast");
  EXPECT_NE(error_of("typo").find("unknown field 'steps'"), std::string::npos) << error_of("typo");
  EXPECT_NE(error_of("notjson").find("invalid JSON"), std::string::npos) << error_of("notjson");
  EXPECT_TRUE(models.find("single")->available());
  EXPECT_EQ(models.list().size(), 7u);
  try {
    models.acquire("broken");
    FAIL() << "an unavailable model loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'broken' is unavailable"), std::string::npos);
  }
}

TEST_F(ModelRegistryTest, MissingDirectoryIsAnError) {
  EXPECT_THROW(ModelRegistry((dir_ / "absent").string(), 0, torch::kFloat32), Error);
}

TEST_F(ModelRegistryTest, LoadsLazilyAndCaches) {
  auto models = registry();
  EXPECT_EQ(models.loaded_count(), 0);
  const auto first = models.acquire("org/tiny");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->path(), (dir_ / "single.safetensors").string());
  const auto info = models.find("single");
  EXPECT_TRUE(info->loaded);
  EXPECT_GT(info->loaded_bytes, 0);
  EXPECT_EQ(models.loaded_bytes(), info->loaded_bytes);
  EXPECT_EQ(models.acquire("single"), first);
  EXPECT_EQ(models.acquire(""), models.acquire("sd15-tiny"));  // "" = the default model
  EXPECT_EQ(models.loaded_count(), 2);
  EXPECT_THROW(models.acquire("nope"), Error);
}

TEST_F(ModelRegistryTest, FailedLoadMarksTheModelUnavailable) {
  // A readable safetensors file that is no checkpoint: it fails only when it loads (a file
  // that is not safetensors at all is unavailable from the scan on).
  fs::create_symlink(
      fs::path(test::fixtures_dir()) / "models" / "lora" / "sd15-tiny-lora.safetensors",
      dir_ / "corrupt.safetensors");
  auto models = registry();
  EXPECT_TRUE(models.find("corrupt")->available());
  EXPECT_THROW(models.acquire("corrupt"), Error);
  const auto info = models.find("corrupt");
  EXPECT_FALSE(info->available());
  EXPECT_NE(info->error.find("failed to load"), std::string::npos) << info->error;
  EXPECT_FALSE(info->loaded);
}

TEST_F(ModelRegistryTest, UnloadsLeastRecentlyUsedOverBudget) {
  const int64_t one = [&] {
    auto models = registry();
    models.acquire("single");
    return models.loaded_bytes();
  }();
  // Room for two of the three same-size models.
  auto models = registry(static_cast<size_t>(one * 2 + one / 2));
  models.acquire("single");
  models.acquire("third");
  models.acquire("single");  // now "third" is the least recently used
  models.acquire("fast");
  EXPECT_TRUE(models.find("single")->loaded);
  EXPECT_FALSE(models.find("third")->loaded);
  EXPECT_TRUE(models.find("fast")->loaded);
  EXPECT_EQ(models.loaded_bytes(), 2 * one);
}

TEST_F(ModelRegistryTest, ModelsInUseAreNeverUnloaded) {
  auto models = registry(1);  // smaller than any model
  auto held = models.acquire("single");
  auto other = models.acquire("third");
  EXPECT_TRUE(models.find("single")->loaded);  // still held by a caller
  EXPECT_TRUE(models.find("third")->loaded);
  held.reset();
  other.reset();
  models.acquire("third");  // over budget: the unused "single" goes
  EXPECT_FALSE(models.find("single")->loaded);
  EXPECT_TRUE(models.find("third")->loaded);
  models.unload_unused();
  EXPECT_EQ(models.loaded_count(), 0);
}

TEST_F(ModelRegistryTest, ListsLoras) {
  auto models = registry();
  EXPECT_EQ(models.lora_names(), (std::vector<std::string>{"sd15-tiny-lora"}));
  const auto path = models.lora_path("sd15-tiny-lora");
  ASSERT_TRUE(path);
  EXPECT_TRUE(fs::exists(*path));
  EXPECT_EQ(models.lora_path("SD15-Tiny-LoRA"), path);
  EXPECT_FALSE(models.lora_path("missing"));
  EXPECT_FALSE(models.lora_path("../loras/sd15-tiny-lora"));
  EXPECT_FALSE(models.lora_path(""));
}

TEST_F(ModelRegistryTest, RescanSeesNewModelsAndKeepsLoadedOnes) {
  auto models = registry();
  const auto loaded = models.acquire("single");
  fs::remove(dir_ / "broken.safetensors");
  fs::create_symlink(dir_ / "single.safetensors", dir_ / "added.safetensors");
  models.rescan();
  EXPECT_FALSE(models.find("broken"));
  EXPECT_TRUE(models.find("added"));
  EXPECT_TRUE(models.find("single")->loaded);
  EXPECT_EQ(models.acquire("single"), loaded);
}

}  // namespace
}  // namespace dd::service
