// Previews of a running generation: which steps write one, what is written, and the errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "io/image.h"
#include "pipeline/latent_preview.h"
#include "util/error.h"

namespace dd::pipeline {
namespace {

namespace fs = std::filesystem;

models::TinyDecoder one_upsample_decoder() {
  models::TinyDecoderConfig config;
  config.channels = 4;
  config.upsamples = 1;
  config.blocks_per_stage = 1;
  return models::TinyDecoder(config);
}

TEST(LatentPreview, WritesEveryNthStepAndTheLastAsAPng) {
  const fs::path dir = fs::temp_directory_path() / ("dd_preview_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string png = (dir / "preview.png").string();
  LatentPreview preview(one_upsample_decoder(), png, 2, 4);
  const auto latents = torch::randn({2, 4, 6, 5});
  const int total = 5;
  for (int step = 0; step < total; ++step) {
    preview(step, total, latents);
    // After steps 2 and 4 (1-based), and the last one.
    EXPECT_EQ(preview.written(), (step + 1) / 2 + (step + 1 == total ? 1 : 0)) << step;
  }
  const io::Image image = io::read_png(png);
  EXPECT_EQ(image.width, 10);  // the first sample, decoded: 2x the latent size
  EXPECT_EQ(image.height, 12);
  EXPECT_FALSE(fs::exists(png + ".tmp"));  // replaced by a rename, never written in place
  fs::remove_all(dir);
}

TEST(LatentPreview, RefusesAMismatchedDecoderOrInterval) {
  EXPECT_THROW(LatentPreview(one_upsample_decoder(), "p.png", 1, 16), Error);
  EXPECT_THROW(LatentPreview(one_upsample_decoder(), "p.png", 0, 4), Error);
}

}  // namespace
}  // namespace dd::pipeline
