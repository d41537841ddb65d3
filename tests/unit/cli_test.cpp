// The CLI end to end (in-process): a generated PNG with its parameters chunk, reproducible
// latents, and one clear error line with exit status 1 for bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/main.h"
#include "io/image.h"
#include "io/tensor_file.h"
#include "test_support.h"

namespace dd::cli {
namespace {

namespace fs = std::filesystem;

int run_cli(std::vector<std::string> args) {
  args.insert(args.begin(), "diffusiond");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return run(static_cast<int>(argv.size()), argv.data());
}

fs::path temp_dir() {
  auto dir = fs::temp_directory_path() / "dd_cli_test";
  fs::create_directories(dir);
  return dir;
}

std::string tiny_model() { return test::fixtures().model_path("sd15-tiny", "diffusers_dir"); }

TEST(Cli, GeneratesAPngWithParametersAndLatents) {
  DD_REQUIRE_FIXTURES();
  const auto png = (temp_dir() / "cat.png").string();
  const auto latents = (temp_dir() / "cat.safetensors").string();
  ASSERT_EQ(run_cli({"generate", "--model", tiny_model(), "--prompt",         "a cat",
                     "--steps",  "3",       "--sampler",  "DPM++ 2M Karras",  "--seed",
                     "7",        "--width", "64",         "--height",         "48",
                     "-q",       "-o",      png,          "--output-latents", latents}),
            0);
  const auto image = io::read_png(png);
  EXPECT_EQ(image.width, 64);
  EXPECT_EQ(image.height, 48);
  const auto text = io::read_png_text(png).at("parameters");
  EXPECT_NE(text.find("a cat\nSteps: 3, Sampler: DPM++ 2M Karras"), std::string::npos) << text;
  EXPECT_NE(text.find("Seed: 7"), std::string::npos) << text;
  EXPECT_NE(text.find("Size: 64x48"), std::string::npos) << text;

  // Feeding back the same noise through --latents reproduces the run.
  const auto again = (temp_dir() / "again.safetensors").string();
  const auto noise = (temp_dir() / "noise.safetensors").string();
  io::save_safetensors(
      noise, {{"latents", torch::randn({1, 4, 6, 8}, at::detail::createCPUGenerator(3))}});
  for (const auto& out : {latents, again})
    ASSERT_EQ(run_cli({"generate",
                       "--model",
                       tiny_model(),
                       "--prompt",
                       "a cat",
                       "--steps",
                       "3",
                       "--width",
                       "64",
                       "--height",
                       "48",
                       "--sampler",
                       "euler",
                       "--latents",
                       noise,
                       "-q",
                       "-o",
                       png,
                       "--output-latents",
                       out}),
              0);
  io::SafetensorsFile a(latents), b(again);
  EXPECT_TRUE(torch::equal(io::load_tensor(a, "latents"), io::load_tensor(b, "latents")));
}

TEST(Cli, SeveralSamplesAreNumbered) {
  DD_REQUIRE_FIXTURES();
  const auto png = (temp_dir() / "many.png").string();
  ASSERT_EQ(run_cli({"generate", "--model", tiny_model(), "--prompt", "x", "--steps", "2",
                     "--samples", "2", "--seed", "1", "-q", "-o", png}),
            0);
  EXPECT_TRUE(fs::exists(temp_dir() / "many-1.png"));
  EXPECT_TRUE(fs::exists(temp_dir() / "many-2.png"));
}

TEST(Cli, BadInputExitsWithOne) {
  DD_REQUIRE_FIXTURES();
  const auto bad_png = (temp_dir() / "bad.png").string();
  std::ofstream(bad_png) << "not a png";
  const auto out = (temp_dir() / "never.png").string();
  const std::vector<std::vector<std::string>> cases = {
      {"generate", "--model", "/nonexistent", "--prompt", "x", "-o", out},
      {"generate", "--model", tiny_model(), "--prompt", "x", "--init-image", bad_png, "-o", out},
      {"generate", "--model", tiny_model(), "--prompt", "x", "--sampler", "nope", "-o", out},
      {"generate", "--model", tiny_model(), "--prompt", "x", "--width", "63", "-o", out},
      {"conformance", "/nonexistent"},
  };
  for (const auto& args : cases) EXPECT_NE(run_cli(args), 0) << args[1] << " " << args.back();
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace dd::cli
