#include "pipeline/latent_preview.h"

#include <filesystem>

#include "io/image.h"
#include "pipeline/compute_layout.h"
#include "pipeline/image_tensor.h"
#include "util/error.h"

namespace dd::pipeline {

LatentPreview::LatentPreview(models::TinyDecoder decoder, std::string path, int every,
                             int latent_channels, torch::ScalarType dtype)
    : decoder_(std::move(decoder)), path_(std::move(path)), every_(every), dtype_(dtype) {
  if (every_ < 1) throw Error("preview: the interval must be at least 1 step");
  if (dtype_ != torch::kFloat32 && dtype_ != torch::kBFloat16)
    throw Error("preview: the tiny decoder runs in float32 or bfloat16");
  if (decoder_->config().latent_channels != latent_channels)
    throw Error("preview: the tiny decoder takes " +
                std::to_string(decoder_->config().latent_channels) +
                "-channel latents, the model makes " + std::to_string(latent_channels));
  decoder_->to(dtype_);
}

void LatentPreview::operator()(int step, int total, const torch::Tensor& latents) {
  if ((step + 1) % every_ != 0 && step + 1 != total) return;
  torch::NoGradGuard no_grad;
  const torch::Tensor z = in_compute_layout(latents.narrow(0, 0, 1), dtype_);
  const torch::Tensor image = decoder_->forward(z)[0].to(torch::kFloat32);
  const std::string temporary = path_ + ".tmp";
  io::write_png(temporary, tensor_to_image(image));
  std::filesystem::rename(temporary, path_);
  ++written_;
}

}  // namespace dd::pipeline
