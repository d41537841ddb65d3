#include "training/training_settings.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace dd::training {

nlohmann::json to_json(const TrainingSettings& s) {
  return {{"seed", s.seed},
          {"vae_steps", s.vae_steps},
          {"vae_batch", s.vae_batch},
          {"vae_lr", s.vae_lr},
          {"vae_kl_weight", s.vae_kl_weight},
          {"vae_object_weight", s.vae_object_weight},
          {"steps", s.steps},
          {"batch", s.batch},
          {"lr", s.lr},
          {"caption_dropout", s.caption_dropout},
          {"ema_decay", s.ema_decay},
          {"warmup_steps", s.warmup_steps},
          {"min_snr_gamma", s.min_snr_gamma},
          {"decoder_steps", s.decoder_steps},
          {"refine_steps", s.refine_steps},
          {"refine_lr", s.refine_lr},
          {"refine_offset_noise", s.refine_offset_noise},
          {"detail_steps", s.detail_steps}};
}

TrainingSettings settings_from_json(const nlohmann::json& json) {
  try {
    TrainingSettings s;
    s.seed = json.at("seed").get<uint64_t>();
    s.vae_steps = json.at("vae_steps").get<int>();
    s.vae_batch = json.at("vae_batch").get<int>();
    s.vae_lr = json.at("vae_lr").get<double>();
    s.vae_kl_weight = json.at("vae_kl_weight").get<double>();
    s.steps = json.at("steps").get<int>();
    s.batch = json.at("batch").get<int>();
    s.lr = json.at("lr").get<double>();
    s.caption_dropout = json.at("caption_dropout").get<double>();
    s.ema_decay = json.at("ema_decay").get<double>();
    s.warmup_steps = json.at("warmup_steps").get<int>();
    // Absent in older runs, which trained without them.
    s.decoder_steps = json.value("decoder_steps", 0);
    s.vae_object_weight = json.value("vae_object_weight", 0.0);
    s.min_snr_gamma = json.value("min_snr_gamma", 0.0);
    // Runs from before phase 4 had no refinement; its recipe is today's if they add one.
    const TrainingSettings defaults;
    s.refine_steps = json.value("refine_steps", 0);
    s.refine_lr = json.value("refine_lr", defaults.refine_lr);
    s.refine_offset_noise = json.value("refine_offset_noise", defaults.refine_offset_noise);
    s.detail_steps = json.value("detail_steps", 0);  // no phase 5 before it existed
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("training settings: ") + e.what());
  }
}

bool TrainingSettings::same_run_as(const TrainingSettings& other) const {
  nlohmann::json a = to_json(*this), b = to_json(other);
  for (const char* key : {"vae_steps", "steps", "decoder_steps", "refine_steps", "detail_steps"}) {
    a.erase(key);
    b.erase(key);
  }
  return a == b;
}

void validate(const TrainingSettings& s) {
  auto require = [](bool ok, const char* what) {
    if (!ok) throw Error(std::string("training: ") + what);
  };
  require(s.vae_steps >= 1 && s.vae_steps <= 10'000'000, "--vae-steps must be 1..10000000");
  require(s.steps >= 1 && s.steps <= 10'000'000, "--steps must be 1..10000000");
  require(s.decoder_steps >= 0 && s.decoder_steps <= 10'000'000,
          "--decoder-steps must be 0..10000000");
  require(s.vae_batch >= 1 && s.vae_batch <= 4096, "--vae-batch must be 1..4096");
  require(s.batch >= 1 && s.batch <= 4096, "--batch must be 1..4096");
  require(s.vae_lr > 0 && s.vae_lr < 1, "--vae-lr must be in (0, 1)");
  require(s.lr > 0 && s.lr < 1, "--lr must be in (0, 1)");
  require(s.vae_kl_weight >= 0 && s.vae_kl_weight < 1, "the KL weight must be in [0, 1)");
  require(s.caption_dropout >= 0 && s.caption_dropout < 1, "caption dropout must be in [0, 1)");
  require(s.ema_decay >= 0 && s.ema_decay < 1, "--ema-decay must be in [0, 1)");
  require(s.warmup_steps >= 0, "warm-up steps must not be negative");
  require(s.vae_object_weight >= 0 && s.vae_object_weight <= 100,
          "the VAE's object weight must be in [0, 100]");
  require(s.min_snr_gamma >= 0, "the min-SNR gamma must not be negative");
  require(s.refine_steps >= 0 && s.refine_steps <= 10'000'000,
          "--refine-steps must be 0..10000000");
  require(s.detail_steps >= 0 && s.detail_steps <= 10'000'000,
          "--detail-steps must be 0..10000000");
  require(s.refine_lr > 0 && s.refine_lr < 1, "the refinement learning rate must be in (0, 1)");
  require(s.refine_offset_noise >= 0 && s.refine_offset_noise <= 10,
          "the offset noise must be in [0, 10]");
}

double learning_rate(double peak, int step, int warmup, int total) {
  if (step < warmup) return peak * (step + 1) / warmup;
  const double span = std::max(1, total - warmup);
  const double progress = std::clamp((step - warmup) / span, 0.0, 1.0);
  return peak * (0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * progress)));
}

}  // namespace dd::training
