#pragma once
// Phase 2 of `diffusiond train`: the UNet and the text encoder learn together to predict the
// noise added to the frozen VAE's latents of captioned scenes (epsilon prediction on SD's
// scaled-linear schedule), with an exponential moving average of both kept for export.
#include <torch/torch.h>

#include <memory>
#include <string>

#include "models/clip_text.h"
#include "models/config.h"
#include "models/unet.h"
#include "models/vae.h"
#include "text/clip_tokenizer.h"
#include "training/scene_batch.h"
#include "training/training_settings.h"

namespace dd::training {

// Per-sample loss weights min(SNR, gamma) / SNR of noise-prediction training, where
// SNR = alpha_bar / (1 - alpha_bar); all ones when gamma <= 0.
torch::Tensor min_snr_weights(const torch::Tensor& alphas_cumprod, double gamma);

class DiffusionTrainer {
 public:
  // `vae` is trained already and stays frozen; `config.vae.scaling_factor` is its measured one.
  DiffusionTrainer(const models::ModelConfig& config, const TrainingSettings& settings,
                   models::AutoencoderKL vae, text::ClipTokenizer tokenizer);

  // One optimiser step on batch `index` of the diffusion stream; returns the loss.
  double step(int index);
  // One step of phase 4 (refinement with offset noise) on batch `index` of its own stream.
  double refine_step(int index);
  // One step of phase 5 (the refinement continued on the plain, unweighted noise loss).
  double detail_step(int index);

  // unet / text_encoder (+ their _ema) .safetensors and diffusion_optimizer.pt in `dir`.
  void save(const std::string& dir);
  void load(const std::string& dir);

  // The averaged weights: what the exported model carries.
  models::UNet& ema_unet() { return ema_unet_; }
  models::ClipTextModel& ema_text_encoder() { return ema_text_encoder_; }

 private:
  torch::Tensor token_ids(const std::vector<std::string>& captions) const;
  SceneBatchOptions batch_options() const;
  // How one optimiser step trains: its learning rate, the offset noise's std, the min-SNR gamma
  // of its loss (0 = plain mean), and its index in the weight average (which continues from
  // phase 2 through phases 4 and 5).
  struct StepRecipe {
    double learning_rate = 0;
    double offset_noise = 0;
    double min_snr_gamma = 0;
    int ema_index = 0;
  };
  double train_on(const SceneBatch& batch, const StepRecipe& recipe);
  double offset_noise_step(uint64_t stream, int index, int total, double min_snr_gamma,
                           int ema_index);
  void update_ema(int index);

  models::ModelConfig config_;
  TrainingSettings settings_;
  models::AutoencoderKL vae_;
  text::ClipTokenizer tokenizer_;
  torch::Tensor alphas_cumprod_;
  models::UNet unet_{nullptr}, ema_unet_{nullptr};
  models::ClipTextModel text_encoder_{nullptr}, ema_text_encoder_{nullptr};
  std::unique_ptr<torch::optim::AdamW> optimizer_;
};

}  // namespace dd::training
