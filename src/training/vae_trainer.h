#pragma once
// Phase 1 of `diffusiond train`: the VAE learns to reconstruct scene pictures through its
// latents (L1 + MSE on pixels, a small KL term keeping the latents near a unit Gaussian).
#include <torch/torch.h>

#include <memory>
#include <string>

#include "models/vae.h"
#include "training/scene_batch.h"
#include "training/training_settings.h"

namespace dd::training {

// The batches both VAE phases train on: `vae_batch` scene pictures at the model's size.
SceneBatchOptions vae_batch_options(const TrainingSettings& settings);

// L1 + MSE between a reconstruction and the pictures [B, 3, H, W], where pixels that differ
// from their picture's background (its per-channel median) weigh 1 + object_weight.
torch::Tensor reconstruction_loss(const torch::Tensor& reconstruction, const torch::Tensor& images,
                                  double object_weight);

class VaeTrainer {
 public:
  VaeTrainer(const models::VaeConfig& config, const TrainingSettings& settings);

  // One optimiser step on batch `index` of the VAE's stream; returns the loss.
  double step(int index);
  // 1 / standard deviation of the latent means over a few batches: the factor that brings
  // latents to unit variance for the UNet (how SD's 0.18215 was chosen).
  double measure_scaling_factor(int batches);

  // vae.safetensors + vae_optimizer.pt in `dir`.
  void save(const std::string& dir);
  void load(const std::string& dir);

  models::AutoencoderKL& vae() { return vae_; }

 private:
  TrainingSettings settings_;
  models::AutoencoderKL vae_{nullptr};
  std::unique_ptr<torch::optim::AdamW> optimizer_;
};

}  // namespace dd::training
