#include "pipeline/preview_decoder.h"

#include "pipeline/compute_layout.h"
#include "pipeline/model.h"
#include "util/error.h"

namespace dd::pipeline {

// The tiles span the colour cube, so every direction of RGB is seen.
torch::Tensor linear_preview_fit_picture() {
  constexpr int kTiles = 8, kTile = 16;
  const auto generator = at::make_generator<at::CPUGeneratorImpl>(20261207);
  const auto colours = torch::rand({1, 3, kTiles, kTiles}, generator);
  return colours.repeat_interleave(kTile, 2).repeat_interleave(kTile, 3);
}

LinearPreview fit_linear_preview(DiffusionModel& model) {
  torch::NoGradGuard no_grad;
  const auto& vae = model.config().vae;
  const auto picture = linear_preview_fit_picture();
  const auto posterior = model.vae->encode(model.to_compute(picture * 2 - 1));
  const auto latents =
      ((posterior.mean.to(torch::kCPU, torch::kFloat32) - vae.shift_factor) * vae.scaling_factor);
  const int64_t channels = latents.size(1), h = latents.size(2), w = latents.size(3);
  // The picture's colour under each latent pixel.
  const auto colours = torch::adaptive_avg_pool2d(picture, {h, w});
  const auto x = torch::cat(
      {latents[0].reshape({channels, h * w}).t(), torch::ones({h * w, 1}, torch::kFloat32)}, 1);
  const auto y = colours[0].reshape({3, h * w}).t();
  // Least squares with a touch of ridge, so a degenerate VAE still gives a finite map.
  const auto xtx = x.t().mm(x) + 1e-4 * torch::eye(channels + 1);
  const auto solution = torch::linalg_solve(xtx, x.t().mm(y));  // [C + 1, 3]
  return {solution.narrow(0, 0, channels).t().contiguous(), solution[channels].contiguous()};
}

PreviewDecoder PreviewDecoder::tiny(models::TinyDecoder decoder, int latent_channels,
                                    torch::ScalarType dtype) {
  if (dtype != torch::kFloat32 && dtype != torch::kBFloat16)
    throw Error("preview: the tiny decoder runs in float32 or bfloat16");
  if (decoder->config().latent_channels != latent_channels)
    throw Error("preview: the tiny decoder takes " +
                std::to_string(decoder->config().latent_channels) +
                "-channel latents, the model makes " + std::to_string(latent_channels));
  decoder->to(dtype);
  return PreviewDecoder([decoder, dtype](const torch::Tensor& latents) mutable {
    torch::NoGradGuard no_grad;
    const auto z = in_compute_layout(latents.to(torch::kCPU), dtype);
    return decoder->forward(z)[0].to(torch::kFloat32).contiguous();
  });
}

PreviewDecoder PreviewDecoder::linear(LinearPreview projection) {
  return PreviewDecoder([projection](const torch::Tensor& latents) {
    torch::NoGradGuard no_grad;
    const auto z = latents[0].to(torch::kCPU, torch::kFloat32);  // [C, h, w]
    const auto rgb =
        torch::einsum("rc,chw->rhw", {projection.weight, z}) + projection.bias.view({3, 1, 1});
    return rgb.clamp(0, 1).contiguous();
  });
}

torch::Tensor PreviewDecoder::decode(const torch::Tensor& latents) const {
  return decode_(latents);
}

bool wants_preview(int step, int total, int every) {
  if (every < 0) return false;
  if (every == 0) every = std::max(1, total / 4);
  return (step + 1) % every == 0 || step + 1 == total;
}

}  // namespace dd::pipeline
