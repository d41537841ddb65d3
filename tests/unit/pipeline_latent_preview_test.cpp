// Previews of a running generation: which steps write one, what is written, and the errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <vector>

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
  LatentPreview preview(PreviewDecoder::tiny(one_upsample_decoder(), 4), png, 2);
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

// A bf16 model's previews decode in bf16 (they used to run in float32 whatever the model's
// dtype, at three times the cost): the decoder's weights are converted, and the picture is the
// float32 one within bf16 rounding.
TEST(LatentPreview, DecodesInTheModelsDtype) {
  const fs::path dir = fs::temp_directory_path() / ("dd_preview_dtype_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const auto latents = torch::randn({1, 4, 6, 5}, at::detail::createCPUGenerator(3));
  std::vector<io::Image> images;
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    torch::manual_seed(7);  // the same random weights for both decoders
    const auto decoder = one_upsample_decoder();
    const std::string png = (dir / (std::string(c10::toString(dtype)) + ".png")).string();
    LatentPreview preview(PreviewDecoder::tiny(decoder, 4, dtype), png, 1);
    for (const auto& parameter : decoder->parameters()) EXPECT_EQ(parameter.scalar_type(), dtype);
    preview(0, 1, latents);
    images.push_back(io::read_png(png));
  }
  ASSERT_EQ(images[0].rgb.size(), images[1].rgb.size());
  int largest = 0;
  for (size_t i = 0; i < images[0].rgb.size(); ++i)
    largest = std::max(largest, std::abs(int{images[0].rgb[i]} - int{images[1].rgb[i]}));
  EXPECT_LE(largest, 4);  // of 255: bf16 keeps 8 bits of mantissa
  fs::remove_all(dir);
}

TEST(LatentPreview, RefusesAMismatchedDecoderOrInterval) {
  EXPECT_THROW(PreviewDecoder::tiny(one_upsample_decoder(), 16), Error);
  EXPECT_THROW(LatentPreview(PreviewDecoder::tiny(one_upsample_decoder(), 4), "p.png", 0), Error);
  EXPECT_THROW(PreviewDecoder::tiny(one_upsample_decoder(), 4, torch::kFloat16), Error);
}

TEST(PreviewDecoder, ALinearProjectionMapsEachLatentPixelToAColour) {
  // Channel 0 drives red, channel 1 green, channel 2 blue; channel 3 is ignored.
  LinearPreview projection{torch::zeros({3, 4}), torch::full({3}, 0.25)};
  for (int c = 0; c < 3; ++c) projection.weight[c][c] = 0.5;
  const auto latents = torch::zeros({2, 4, 3, 5});
  latents[0][1].fill_(1.0);   // first sample: green up
  latents[0][2].fill_(-2.0);  // blue clamped to 0
  const auto rgb = PreviewDecoder::linear(projection).decode(latents);
  ASSERT_EQ(rgb.sizes(), (std::vector<int64_t>{3, 3, 5}));  // latent-sized, first sample only
  EXPECT_FLOAT_EQ(rgb[0][1][2].item<float>(), 0.25f);
  EXPECT_FLOAT_EQ(rgb[1][1][2].item<float>(), 0.75f);
  EXPECT_FLOAT_EQ(rgb[2][1][2].item<float>(), 0.0f);
}

TEST(PreviewDecoder, PreviewStepsComeEveryNAboutFourByDefaultAndAlwaysLast) {
  std::vector<int> every2, automatic, never;
  for (int step = 0; step < 9; ++step) {
    if (wants_preview(step, 9, 2)) every2.push_back(step + 1);
    if (wants_preview(step, 9, 0)) automatic.push_back(step + 1);
    if (wants_preview(step, 9, -1)) never.push_back(step + 1);
  }
  EXPECT_EQ(every2, (std::vector<int>{2, 4, 6, 8, 9}));
  EXPECT_EQ(automatic, (std::vector<int>{2, 4, 6, 8, 9}));  // 9 / 4 = every 2 steps
  EXPECT_TRUE(never.empty());
  EXPECT_TRUE(wants_preview(0, 1, 0));
}

}  // namespace
}  // namespace dd::pipeline
