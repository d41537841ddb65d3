// The training losses' weighting: objects over background in the VAE's reconstruction loss,
// min-SNR over noise levels in the diffusion loss, and the VAE round trip the run reports.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "scenes/scene.h"
#include "training/diffusion_trainer.h"
#include "training/scene_model_config.h"
#include "training/vae_round_trip.h"
#include "training/vae_trainer.h"

namespace dd::training {
namespace {

// One 8x8 picture: a grey background with a single white "object" pixel.
torch::Tensor picture_with_one_object_pixel() {
  torch::Tensor images = torch::zeros({1, 3, 8, 8});
  images.index_put_({0, torch::indexing::Slice(), 3, 4}, 1.0);
  return images;
}

TEST(ReconstructionLoss, WeighsObjectPixelsByOnePlusTheObjectWeight) {
  const torch::Tensor images = picture_with_one_object_pixel();
  // The same error once on the object pixel and once on a background pixel.
  torch::Tensor wrong_object = images.clone();
  wrong_object.index_put_({0, 0, 3, 4}, 0.5);
  torch::Tensor wrong_background = images.clone();
  wrong_background.index_put_({0, 0, 0, 0}, 0.5);

  const double error = (0.5 + 0.25) / (3 * 64);  // (L1 + MSE) of one value, as a mean
  EXPECT_NEAR(reconstruction_loss(wrong_background, images, 4.0).item<double>(), error, 1e-7);
  EXPECT_NEAR(reconstruction_loss(wrong_object, images, 4.0).item<double>(), 5 * error, 1e-7);
  EXPECT_NEAR(reconstruction_loss(wrong_object, images, 0.0).item<double>(), error, 1e-7);
  EXPECT_EQ(reconstruction_loss(images, images, 4.0).item<double>(), 0.0);
}

TEST(MinSnrWeights, CapTheSignalToNoiseRatioAtGamma) {
  // alpha_bar 0.5 -> SNR 1; 0.9 -> SNR 9; 0.99 -> SNR 99.
  const torch::Tensor alphas = torch::tensor({0.5, 0.9, 0.99}, torch::kFloat64);
  const torch::Tensor weights = min_snr_weights(alphas, 5.0);
  EXPECT_NEAR(weights[0].item<double>(), 1.0, 1e-12);
  EXPECT_NEAR(weights[1].item<double>(), 5.0 / 9.0, 1e-9);
  EXPECT_NEAR(weights[2].item<double>(), 5.0 / 99.0, 1e-9);
  EXPECT_TRUE(torch::equal(min_snr_weights(alphas, 0.0), torch::ones_like(alphas)));
}

TEST(VaeRoundTrip, GivesAPictureAtTheTrainingSizeForEveryScene) {
  torch::manual_seed(3);
  SceneModelTokens tokens;
  tokens.vocab_size = 300;
  models::AutoencoderKL vae(scene_model_config(tokens).vae);
  const SceneGenerator generate = vae_round_trip_generator(vae);
  vae->train();
  const io::Image image = generate("ignored", 7);
  EXPECT_EQ(image.width, kSceneImageSize);
  EXPECT_EQ(image.height, kSceneImageSize);
  EXPECT_TRUE(vae->is_training()) << "the round trip must leave the VAE's mode as it found it";
  // Deterministic: the posterior mean, not a sample.
  EXPECT_EQ(generate("ignored", 7).rgb, image.rgb);
}

}  // namespace
}  // namespace dd::training
