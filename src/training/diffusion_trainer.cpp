#include "training/diffusion_trainer.h"

#include <algorithm>
#include <filesystem>

#include "pipeline/model.h"
#include "sampling/noise_schedule.h"
#include "training/module_tensors.h"
#include "training/optimizer.h"
#include "training/scene_batch.h"
#include "training/scene_model_config.h"

namespace dd::training {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kDiffusionStream = 200;
constexpr uint64_t kRefineStream = 400;
constexpr uint64_t kDetailStream = 500;

std::vector<torch::Tensor> joined_parameters(torch::nn::Module& a, torch::nn::Module& b) {
  std::vector<torch::Tensor> parameters = a.parameters();
  for (const auto& p : b.parameters()) parameters.push_back(p);
  return parameters;
}

void copy_weights(torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard no_grad;
  const auto source = from.parameters();
  auto target = to.parameters();
  for (size_t i = 0; i < source.size(); ++i) target[i].copy_(source[i]);
}

void blend_weights(torch::nn::Module& from, torch::nn::Module& to, double decay) {
  torch::NoGradGuard no_grad;
  const auto source = from.parameters();
  auto target = to.parameters();
  for (size_t i = 0; i < source.size(); ++i) target[i].mul_(decay).add_(source[i], 1 - decay);
}

}  // namespace

torch::Tensor min_snr_weights(const torch::Tensor& alphas_cumprod, double gamma) {
  if (gamma <= 0) return torch::ones_like(alphas_cumprod);
  const torch::Tensor snr = alphas_cumprod / (1 - alphas_cumprod);
  return snr.clamp_max(gamma) / snr;
}

DiffusionTrainer::DiffusionTrainer(const models::ModelConfig& config,
                                   const TrainingSettings& settings, models::AutoencoderKL vae,
                                   text::ClipTokenizer tokenizer)
    : config_(config),
      settings_(settings),
      vae_(std::move(vae)),
      tokenizer_(std::move(tokenizer)),
      unet_(config.unet),
      ema_unet_(config.unet),
      text_encoder_(config.text_encoders.at(0)),
      ema_text_encoder_(config.text_encoders.at(0)) {
  vae_->eval();
  for (auto& p : vae_->parameters()) p.set_requires_grad(false);
  alphas_cumprod_ = sampling::NoiseSchedule(pipeline::schedule_config_for(config)).alphas_cumprod;
  copy_weights(*unet_, *ema_unet_);
  copy_weights(*text_encoder_, *ema_text_encoder_);
  for (auto* ema : {static_cast<torch::nn::Module*>(ema_unet_.get()),
                    static_cast<torch::nn::Module*>(ema_text_encoder_.get())}) {
    ema->eval();
    for (auto& p : ema->parameters()) p.set_requires_grad(false);
  }
  optimizer_ = make_optimizer(joined_parameters(*unet_, *text_encoder_), settings.lr);
}

// Prompts framed exactly as the engine frames them at generation time (BOS, ids, EOS, padding).
torch::Tensor DiffusionTrainer::token_ids(const std::vector<std::string>& captions) const {
  const auto& clip = config_.text_encoders.at(0);
  std::vector<torch::Tensor> rows;
  for (const auto& caption : captions) {
    auto ids = tokenizer_.encode_padded(caption, clip.pad_id, clip.max_positions);
    rows.push_back(torch::tensor(ids, torch::kInt64));
  }
  return torch::stack(rows);
}

SceneBatchOptions DiffusionTrainer::batch_options() const {
  SceneBatchOptions options;
  options.batch = settings_.batch;
  options.image_size = kSceneImageSize;
  options.caption_dropout = settings_.caption_dropout;
  return options;
}

double DiffusionTrainer::step(int index) {
  const SceneBatch batch =
      training_step_batch(settings_.seed, kDiffusionStream, index, batch_options());
  return train_on(batch,
                  {learning_rate(settings_.lr, index, settings_.warmup_steps, settings_.steps), 0.0,
                   settings_.min_snr_gamma, index});
}

double DiffusionTrainer::refine_step(int index) {
  return offset_noise_step(kRefineStream, index, settings_.refine_steps, settings_.min_snr_gamma,
                           settings_.steps + index);
}

double DiffusionTrainer::detail_step(int index) {
  return offset_noise_step(kDetailStream, index, settings_.detail_steps, 0.0,
                           settings_.steps + settings_.refine_steps + index);
}

// Phases 4 and 5: the refinement learning rate and offset noise, on a stream of their own.
double DiffusionTrainer::offset_noise_step(uint64_t stream, int index, int total,
                                           double min_snr_gamma, int ema_index) {
  const SceneBatch batch = training_step_batch(settings_.seed, stream, index, batch_options());
  return train_on(batch, {learning_rate(settings_.refine_lr, index, 0, total),
                          settings_.refine_offset_noise, min_snr_gamma, ema_index});
}

double DiffusionTrainer::train_on(const SceneBatch& batch, const StepRecipe& recipe) {
  unet_->train();
  text_encoder_->train();
  const int64_t n = batch.images.size(0);
  torch::Tensor latents;
  {
    torch::NoGradGuard no_grad;
    const auto posterior = vae_->encode(batch.images);
    latents = (posterior.mean + posterior.std * torch::randn_like(posterior.std)) *
              config_.vae.scaling_factor;
  }
  const torch::Tensor t = torch::randint(0, alphas_cumprod_.size(0), {n}, torch::kInt64);
  const torch::Tensor alpha = alphas_cumprod_.index_select(0, t).view({n, 1, 1, 1});
  torch::Tensor noise = torch::randn_like(latents);
  if (recipe.offset_noise > 0)
    noise =
        noise + recipe.offset_noise * torch::randn({n, latents.size(1), 1, 1}, latents.options());
  const torch::Tensor noisy = alpha.sqrt() * latents + (1 - alpha).sqrt() * noise;

  set_learning_rate(*optimizer_, recipe.learning_rate);
  optimizer_->zero_grad();
  const torch::Tensor context = text_encoder_->forward(token_ids(batch.captions)).last_hidden_state;
  const torch::Tensor prediction = unet_->forward(noisy, t.to(torch::kFloat32), context);
  const torch::Tensor per_image = (prediction - noise).square().mean({1, 2, 3});
  const torch::Tensor loss =
      (min_snr_weights(alpha.flatten(), recipe.min_snr_gamma) * per_image).mean();
  loss.backward();
  torch::nn::utils::clip_grad_norm_(joined_parameters(*unet_, *text_encoder_), 1.0);
  optimizer_->step();
  update_ema(recipe.ema_index);
  return loss.item<double>();
}

// The usual warm-up of the decay, so early averages are not dominated by the random start.
void DiffusionTrainer::update_ema(int index) {
  const double decay = std::min(settings_.ema_decay, (1.0 + index) / (10.0 + index));
  blend_weights(*unet_, *ema_unet_, decay);
  blend_weights(*text_encoder_, *ema_text_encoder_, decay);
}

void DiffusionTrainer::save(const std::string& dir) {
  const fs::path d(dir);
  save_module(*unet_, (d / "unet.safetensors").string());
  save_module(*text_encoder_, (d / "text_encoder.safetensors").string());
  save_module(*ema_unet_, (d / "unet_ema.safetensors").string());
  save_module(*ema_text_encoder_, (d / "text_encoder_ema.safetensors").string());
  save_optimizer(*optimizer_, (d / "diffusion_optimizer.pt").string());
}

void DiffusionTrainer::load(const std::string& dir) {
  const fs::path d(dir);
  load_module(*unet_, (d / "unet.safetensors").string());
  load_module(*text_encoder_, (d / "text_encoder.safetensors").string());
  load_module(*ema_unet_, (d / "unet_ema.safetensors").string());
  load_module(*ema_text_encoder_, (d / "text_encoder_ema.safetensors").string());
  load_optimizer(*optimizer_, (d / "diffusion_optimizer.pt").string());
}

}  // namespace dd::training
