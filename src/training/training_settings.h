#pragma once
// Everything that decides what `diffusiond train` produces. Stored in the work directory with
// the progress, so a resumed run continues with the settings it started with.
#include <cstdint>
#include <nlohmann/json.hpp>

namespace dd::training {

struct TrainingSettings {
  uint64_t seed = 1;
  // Phase 1: the VAE alone (reconstruction + a small KL term).
  int vae_steps = 1600;
  int vae_batch = 16;
  double vae_lr = 1e-3;
  double vae_kl_weight = 1e-5;
  // Extra weight of the pixels that differ from the picture's background: objects are a small
  // share of each picture, and the evaluator grades exactly them (0 = plain mean).
  double vae_object_weight = 4.0;
  // Phase 2: UNet and text encoder together on the frozen VAE's latents.
  int steps = 4000;
  int batch = 32;
  double lr = 5e-4;
  double caption_dropout = 0.1;
  double ema_decay = 0.999;
  int warmup_steps = 200;
  // Min-SNR loss weighting (Hang et al. 2023): noise levels finer than this signal-to-noise
  // ratio count less, so training spends itself on layout and colour (0 = plain mean).
  double min_snr_gamma = 5.0;
  // Phase 3: the VAE decoder alone, on the frozen encoder's latents (0 = skip).
  int decoder_steps = 800;
  // Phase 4: the UNet and text encoder refined with offset noise (a random constant per picture
  // and channel added to the noise), 0 = skip. A 16x16 latent's mean survives even the last
  // noise level, so without it the model reads the background colour off its noisy input and
  // never learns it from the caption; at generation time that input is pure noise.
  int refine_steps = 1000;
  double refine_lr = 2e-4;
  double refine_offset_noise = 0.2;
  // Phase 5: the refinement continued (same learning rate and offset noise) on the plain noise
  // loss, 0 = skip. Min-SNR weighting discounts the fine noise levels up to 20x, and those are
  // the levels that draw small shapes' points: without this, small stars come out as blobs.
  int detail_steps = 600;

  // Only the step counts may change on resume (to train longer or stop earlier).
  bool same_run_as(const TrainingSettings& other) const;
};

nlohmann::json to_json(const TrainingSettings& settings);
// dd::Error for a missing or mistyped field.
TrainingSettings settings_from_json(const nlohmann::json& json);
// dd::Error naming the first setting that is out of range.
void validate(const TrainingSettings& settings);

// Linear warm-up, then a cosine decay to a tenth of the peak at `total` steps.
double learning_rate(double peak, int step, int warmup, int total);

}  // namespace dd::training
