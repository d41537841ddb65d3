// A corrupt or truncated checkpoint, a missing tensor, a wrong shape and a missing tokenizer each
// give one clear dd::Error naming what is wrong.
#include <gtest/gtest.h>

#include <filesystem>

#include "io/tensor_file.h"
#include "pipeline/model.h"
#include "test_support.h"
#include "util/error.h"

namespace dd::pipeline {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir() {
  auto dir = fs::temp_directory_path() / "dd_model_load_test";
  fs::create_directories(dir);
  return dir;
}

ModelSource tiny_single_file(const std::string& path) {
  ModelSource source;
  source.path = path;
  source.config_json = test::fixtures().model_path("sd15-tiny", "arch");
  source.tokenizer_dir = test::fixtures().model_path("sd15-tiny", "diffusers_dir");
  return source;
}

// The tiny single file rewritten with `edit` applied to its tensors.
std::string rewritten(const std::string& name, const std::function<void(io::NamedTensors&)>& edit) {
  io::SafetensorsFile file(test::fixtures().model_path("sd15-tiny", "single_file"));
  io::NamedTensors tensors;
  for (const auto& entry : file.entries())
    tensors.emplace_back(entry.name, io::load_tensor(file, entry));
  edit(tensors);
  const auto path = (temp_dir() / name).string();
  io::save_safetensors(path, tensors);
  return path;
}

std::string load_error(const ModelSource& source) {
  try {
    DiffusionModel::load(source);
  } catch (const Error& e) {
    return e.what();
  }
  return "(loaded without error)";
}

const char* kConvIn = "model.diffusion_model.input_blocks.0.0.weight";

TEST(ModelLoad, BothLayoutsLoad) {
  DD_REQUIRE_FIXTURES();
  auto single = DiffusionModel::load(
      tiny_single_file(test::fixtures().model_path("sd15-tiny", "single_file")));
  ModelSource folder;
  folder.path = test::fixtures().model_path("sd15-tiny", "diffusers_dir");
  auto diffusers = DiffusionModel::load(folder);
  auto a = single->unet->named_parameters();
  auto b = diffusers->unet->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& item : a) EXPECT_TRUE(torch::equal(item.value(), b[item.key()])) << item.key();
}

TEST(ModelLoad, TruncatedCheckpoint) {
  DD_REQUIRE_FIXTURES();
  const auto path = (temp_dir() / "truncated.safetensors").string();
  fs::copy_file(test::fixtures().model_path("sd15-tiny", "single_file"), path,
                fs::copy_options::overwrite_existing);
  fs::resize_file(path, fs::file_size(path) / 2);
  const auto message = load_error(tiny_single_file(path));
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
  EXPECT_NE(message.find(path), std::string::npos) << message;
}

TEST(ModelLoad, MissingTensorIsNamed) {
  DD_REQUIRE_FIXTURES();
  const auto path = rewritten("missing.safetensors", [](io::NamedTensors& t) {
    t.erase(std::remove_if(t.begin(), t.end(), [](auto& e) { return e.first == kConvIn; }),
            t.end());
  });
  const auto message = load_error(tiny_single_file(path));
  EXPECT_NE(message.find(kConvIn), std::string::npos) << message;
}

TEST(ModelLoad, WrongShapeIsNamed) {
  DD_REQUIRE_FIXTURES();
  const auto path = rewritten("shape.safetensors", [](io::NamedTensors& t) {
    for (auto& e : t)
      if (e.first == kConvIn) e.second = torch::zeros({3, 3});
  });
  const auto message = load_error(tiny_single_file(path));
  EXPECT_NE(message.find("conv_in.weight"), std::string::npos) << message;
  EXPECT_NE(message.find("shape"), std::string::npos) << message;
}

TEST(ModelLoad, MissingTokenizerIsExplained) {
  DD_REQUIRE_FIXTURES();
  const auto path = (temp_dir() / "alone" / "model.safetensors");
  fs::create_directories(path.parent_path());
  fs::copy_file(test::fixtures().model_path("sd15-tiny", "single_file"), path,
                fs::copy_options::overwrite_existing);
  auto source = tiny_single_file(path.string());
  source.tokenizer_dir.clear();
  const auto message = load_error(source);
  EXPECT_NE(message.find("tokenizer"), std::string::npos) << message;
}

TEST(ModelLoad, UnknownSizeWithoutArchitectureAsksForOne) {
  DD_REQUIRE_FIXTURES();
  auto source = tiny_single_file(test::fixtures().model_path("sd15-tiny", "single_file"));
  const auto copy = temp_dir() / "noarch.safetensors";
  fs::copy_file(source.path, copy, fs::copy_options::overwrite_existing);
  source.path = copy.string();
  source.config_json.clear();
  const auto message = load_error(source);
  EXPECT_NE(message.find("--config"), std::string::npos) << message;
}

TEST(ModelLoad, MissingPath) {
  ModelSource source;
  source.path = "/nonexistent/model.safetensors";
  EXPECT_NE(load_error(source).find("no such model"), std::string::npos);
}

}  // namespace
}  // namespace dd::pipeline
