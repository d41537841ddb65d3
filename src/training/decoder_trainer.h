#pragma once
// Phase 3 of `diffusiond train`: the VAE decoder alone is trained further on the frozen
// encoder's latents (as Stable Diffusion's "ft-MSE" VAE was). The latents the UNet learned do not
// change, so this sharpens every picture without retraining the UNet.
#include <torch/torch.h>

#include <memory>
#include <string>

#include "models/vae.h"
#include "training/training_settings.h"

namespace dd::training {

class DecoderTrainer {
 public:
  // Trains `vae`'s decoder and post_quant_conv in place; the encoder stays frozen.
  DecoderTrainer(models::AutoencoderKL vae, const TrainingSettings& settings);

  double step(int index);

  // vae.safetensors (the whole VAE, encoder unchanged) + decoder_optimizer.pt in `dir`.
  void save(const std::string& dir);
  // The optimiser state; the VAE's weights come with the VAE phase's load.
  void load(const std::string& dir);

 private:
  TrainingSettings settings_;
  models::AutoencoderKL vae_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
};

}  // namespace dd::training
