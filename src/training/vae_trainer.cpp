#include "training/vae_trainer.h"

#include <filesystem>

#include "training/module_tensors.h"
#include "training/optimizer.h"
#include "training/scene_batch.h"
#include "training/scene_model_config.h"

namespace dd::training {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kVaeStream = 100;
constexpr uint64_t kScalingStream = 101;

}  // namespace

torch::Tensor reconstruction_loss(const torch::Tensor& reconstruction, const torch::Tensor& images,
                                  double object_weight) {
  torch::Tensor weights;
  {
    torch::NoGradGuard no_grad;
    // The background covers most of every scene, so the median of each channel is its colour.
    const torch::Tensor background =
        std::get<0>(images.flatten(2).median(2)).unsqueeze(-1).unsqueeze(-1);
    const torch::Tensor object =
        ((images - background).abs().sum(1, true) > 0.1).to(images.dtype());
    weights = 1 + object_weight * object;
  }
  const torch::Tensor difference = reconstruction - images;
  return (weights * (difference.abs() + difference.square())).mean();
}

SceneBatchOptions vae_batch_options(const TrainingSettings& settings) {
  SceneBatchOptions options;
  options.batch = settings.vae_batch;
  options.image_size = kSceneImageSize;
  return options;
}

VaeTrainer::VaeTrainer(const models::VaeConfig& config, const TrainingSettings& settings)
    : settings_(settings), vae_(config) {
  optimizer_ = make_optimizer(vae_->parameters(), settings.vae_lr);
}

double VaeTrainer::step(int index) {
  vae_->train();
  const SceneBatchOptions options = vae_batch_options(settings_);
  const SceneBatch batch = training_step_batch(settings_.seed, kVaeStream, index, options);

  set_learning_rate(*optimizer_, learning_rate(settings_.vae_lr, index, settings_.warmup_steps,
                                               settings_.vae_steps));
  optimizer_->zero_grad();
  const auto posterior = vae_->encode(batch.images);
  const torch::Tensor z = posterior.mean + posterior.std * torch::randn_like(posterior.std);
  const torch::Tensor kl =
      0.5 * (posterior.mean.square() + posterior.logvar.exp() - 1 - posterior.logvar).mean();
  const torch::Tensor loss =
      reconstruction_loss(vae_->decode(z), batch.images, settings_.vae_object_weight) +
      settings_.vae_kl_weight * kl;
  loss.backward();
  torch::nn::utils::clip_grad_norm_(vae_->parameters(), 1.0);
  optimizer_->step();
  return loss.item<double>();
}

double VaeTrainer::measure_scaling_factor(int batches) {
  torch::NoGradGuard no_grad;
  vae_->eval();
  const SceneBatchOptions options = vae_batch_options(settings_);
  std::vector<torch::Tensor> means;
  for (int i = 0; i < batches; ++i)
    means.push_back(vae_->encode(scene_batch(settings_.seed ^ kScalingStream, i, options).images)
                        .mean.flatten());
  return 1.0 / torch::cat(means).std().item<double>();
}

void VaeTrainer::save(const std::string& dir) {
  save_module(*vae_, (fs::path(dir) / "vae.safetensors").string());
  save_optimizer(*optimizer_, (fs::path(dir) / "vae_optimizer.pt").string());
}

void VaeTrainer::load(const std::string& dir) {
  load_module(*vae_, (fs::path(dir) / "vae.safetensors").string());
  load_optimizer(*optimizer_, (fs::path(dir) / "vae_optimizer.pt").string());
}

}  // namespace dd::training
