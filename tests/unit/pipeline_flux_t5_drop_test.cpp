// drop_t5_after_encoding: the T5 encoder is freed after each new prompt is encoded, a repeated
// prompt comes from the prompt cache without reading the encoder again, a new prompt reads it
// again, and the images are those of a model that keeps its encoder.
#include <gtest/gtest.h>

#include "pipeline_flux_variants.h"
#include "test_support.h"
#include "util/error.h"

namespace dd::pipeline {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

const std::string kSchnell = "flux-schnell-tiny";

TEST(FluxT5Drop, TheEncoderIsReadAgainOnlyForANewPrompt) {
  DD_REQUIRE_FLUX_FIXTURES();
  TempDir dir;
  const std::string t5 = dir.file("t5xxl.safetensors");
  fs::copy_file(test::flux_t5_file(), t5);
  ModelSource source;
  source.path = test::flux_bfl_file(kSchnell);
  source.config_json = test::flux_arch_json(kSchnell);
  source.components_dir = test::flux_folder(kSchnell);
  source.t5_path = t5;
  source.drop_t5_after_encoding = true;
  const auto dropping = test::load_flux_model(source);
  source.drop_t5_after_encoding = false;
  const auto keeping = test::load_flux_model(source);
  EXPECT_TRUE(dropping->t5_loaded());  // loaded with the model: a missing file shows at once

  const auto first = test::flux_request("a red fox in the snow", 3);
  const auto image = test::flux_images(*dropping, first);
  EXPECT_FALSE(dropping->t5_loaded());
  EXPECT_LE(io::max_abs_diff(image, test::flux_images(*keeping, first)), 1e-5);
  EXPECT_TRUE(keeping->t5_loaded());

  // With the file gone, a reload would fail: the repeated prompt must not need one.
  fs::rename(t5, t5 + ".away");
  auto again = first;
  again.seed = 4;
  const auto repeated = test::flux_images(*dropping, again);
  EXPECT_FALSE(dropping->t5_loaded());
  EXPECT_LE(io::max_abs_diff(repeated, test::flux_images(*keeping, again)), 1e-5);

  // A new prompt reads the encoder again (here: fails naming the file, then works once it is
  // back).
  const auto second = test::flux_request("a blue boat on a lake", 3);
  try {
    test::flux_images(*dropping, second);
    ADD_FAILURE() << "a new prompt did not read the T5 encoder again";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("t5xxl.safetensors"), std::string::npos) << e.what();
  }
  fs::rename(t5 + ".away", t5);
  const auto other = test::flux_images(*dropping, second);
  EXPECT_FALSE(dropping->t5_loaded());
  EXPECT_LE(io::max_abs_diff(other, test::flux_images(*keeping, second)), 1e-5);
  EXPECT_GT(io::max_abs_diff(other, image), 1e-3);  // a different prompt, a different image
}

TEST(FluxT5Drop, TrueCfgEncodesBothPromptsWithOneDroppingEncoder) {
  DD_REQUIRE_FLUX_FIXTURES();
  ModelSource source;
  source.path = test::flux_folder(kSchnell);
  source.drop_t5_after_encoding = true;
  const auto dropping = test::load_flux_model(source);
  const auto keeping = test::load_flux_folder(kSchnell);
  auto request = test::flux_request();
  request.true_cfg = 2.0;
  request.negative_prompt = "blurry";
  const auto image = test::flux_images(*dropping, request);
  EXPECT_FALSE(dropping->t5_loaded());
  EXPECT_LE(io::max_abs_diff(image, test::flux_images(*keeping, request)), 1e-5);
}

}  // namespace
}  // namespace dd::pipeline
