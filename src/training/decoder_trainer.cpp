#include "training/decoder_trainer.h"

#include <filesystem>

#include "training/module_tensors.h"
#include "training/optimizer.h"
#include "training/scene_batch.h"
#include "training/vae_trainer.h"

namespace dd::training {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kDecoderStream = 300;

// The decoder side of the VAE, by its diffusers names.
bool is_decoder_side(const std::string& name) {
  return name.rfind("decoder.", 0) == 0 || name.rfind("post_quant_conv.", 0) == 0;
}

}  // namespace

DecoderTrainer::DecoderTrainer(models::AutoencoderKL vae, const TrainingSettings& settings)
    : settings_(settings), vae_(std::move(vae)) {
  std::vector<torch::Tensor> trained;
  for (auto& item : vae_->named_parameters(/*recurse=*/true)) {
    const bool decoder = is_decoder_side(item.key());
    item.value().set_requires_grad(decoder);
    if (decoder) trained.push_back(item.value());
  }
  optimizer_ = make_optimizer(trained, settings.vae_lr);
}

double DecoderTrainer::step(int index) {
  vae_->train();
  const SceneBatchOptions options = vae_batch_options(settings_);
  const SceneBatch batch = training_step_batch(settings_.seed, kDecoderStream, index, options);

  set_learning_rate(*optimizer_, learning_rate(settings_.vae_lr, index, settings_.warmup_steps,
                                               settings_.decoder_steps));
  optimizer_->zero_grad();
  torch::Tensor z;
  {
    torch::NoGradGuard no_grad;
    const auto posterior = vae_->encode(batch.images);
    z = posterior.mean + posterior.std * torch::randn_like(posterior.std);
  }
  const torch::Tensor loss =
      reconstruction_loss(vae_->decode(z), batch.images, settings_.vae_object_weight);
  loss.backward();
  torch::nn::utils::clip_grad_norm_(optimizer_->param_groups().at(0).params(), 1.0);
  optimizer_->step();
  return loss.item<double>();
}

void DecoderTrainer::save(const std::string& dir) {
  save_module(*vae_, (fs::path(dir) / "vae.safetensors").string());
  save_optimizer(*optimizer_, (fs::path(dir) / "decoder_optimizer.pt").string());
}

void DecoderTrainer::load(const std::string& dir) {
  load_optimizer(*optimizer_, (fs::path(dir) / "decoder_optimizer.pt").string());
}

}  // namespace dd::training
