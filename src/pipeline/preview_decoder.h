#pragma once
// What a running generation looks like so far: its current latents (as the denoiser sees them)
// turned into an RGB picture, cheaply, for previews (the CLI's --preview file, the server's
// progress events). Two kinds:
//  - a TAESD-style tiny decoder (models/tiny_decoder.h): a full-size, fairly faithful picture
//    for a fraction of the VAE's work;
//  - a linear projection, latent channels -> RGB, fitted to the model's own VAE by least squares
//    (fit_linear_preview): a latent-sized, blurry but recognisable picture for almost nothing.
//    It needs no extra file and fits any family (4-channel SD/SDXL, 16-channel FLUX).
#include <torch/torch.h>

#include <functional>

#include "models/tiny_decoder.h"

namespace dd::pipeline {

class DiffusionModel;

// A linear latent-to-RGB map: rgb = weight . latent + bias, per latent pixel.
struct LinearPreview {
  torch::Tensor weight;  // [3, C] float32
  torch::Tensor bias;    // [3] float32
};

// Encodes a fixed picture of coloured tiles with the model's VAE and solves for the projection
// that best maps the latents (scaled and shifted as the denoiser sees them) back to the tiles'
// colours. About one VAE encode of a 128x128 picture.
LinearPreview fit_linear_preview(DiffusionModel& model);
// The picture the projection is fitted to: [1, 3, 128, 128] in [0, 1], 8x8 tiles of fixed
// pseudo-random colours.
torch::Tensor linear_preview_fit_picture();

class PreviewDecoder {
 public:
  // dd::Error when the decoder does not take `latent_channels`-channel latents or dtype is
  // neither float32 nor bfloat16 (it is converted in place; it runs on the CPU).
  static PreviewDecoder tiny(models::TinyDecoder decoder, int latent_channels,
                             torch::ScalarType dtype = torch::kFloat32);
  static PreviewDecoder linear(LinearPreview projection);

  // [1, C, h, w] latents (any device) -> [3, H, W] float32 in [0, 1] on the CPU.
  torch::Tensor decode(const torch::Tensor& latents) const;

 private:
  explicit PreviewDecoder(std::function<torch::Tensor(const torch::Tensor&)> decode)
      : decode_(std::move(decode)) {}
  std::function<torch::Tensor(const torch::Tensor&)> decode_;
};

// Whether step `step` (0-based) of `total` gets a preview when previews come every `every`
// steps (0: about four per generation, every max(1, total / 4) steps); the last step always
// does. Negative `every`: never.
bool wants_preview(int step, int total, int every);

}  // namespace dd::pipeline
