#pragma once
// The VAE of Stable Diffusion and FLUX.1 (diffusers' AutoencoderKL), built from a VaeConfig.
// Images are NCHW in [-1, 1]; latents here are unscaled: the pipeline maps its latents to the
// decoder's input and back with decoder_input_of / pipeline_latents_of below. FLUX's VAE has 16
// latent channels, a shift_factor and no quant_conv / post_quant_conv.
#include <torch/torch.h>

#include "models/config.h"
#include "models/vae_blocks.h"

namespace dd::models {

class VaeEncoderImpl : public torch::nn::Module {
 public:
  explicit VaeEncoderImpl(const VaeConfig& config);
  // [B, in_channels, H, W] -> [B, 2 * latent_channels, H / f, W / f] (mean | logvar before
  // quant_conv), f = 2^(levels-1); sizes not divisible by f are floored at each level.
  torch::Tensor forward(const torch::Tensor& x, VaeTrace* trace = nullptr);

 private:
  torch::nn::Conv2d conv_in_{nullptr}, conv_out_{nullptr};
  torch::nn::ModuleList down_blocks_{nullptr};
  VaeMidBlock mid_block_{nullptr};
  torch::nn::GroupNorm conv_norm_out_{nullptr};
};
TORCH_MODULE(VaeEncoder);

class VaeDecoderImpl : public torch::nn::Module {
 public:
  explicit VaeDecoderImpl(const VaeConfig& config);
  torch::Tensor forward(const torch::Tensor& z, VaeTrace* trace = nullptr);

 private:
  torch::nn::Conv2d conv_in_{nullptr}, conv_out_{nullptr};
  VaeMidBlock mid_block_{nullptr};
  torch::nn::ModuleList up_blocks_{nullptr};
  torch::nn::GroupNorm conv_norm_out_{nullptr};
};
TORCH_MODULE(VaeDecoder);

class AutoencoderKLImpl : public torch::nn::Module {
 public:
  explicit AutoencoderKLImpl(const VaeConfig& config);

  // The diagonal Gaussian over latents; logvar is clamped to [-30, 20] as in diffusers.
  // A sample is `mean + std * noise`, the pipeline's latents `sample * scaling_factor`.
  struct Posterior {
    torch::Tensor mean, logvar, std;
  };
  // x: [B, in_channels, H, W] in [-1, 1]. Trace names: encoder.*, quant_conv (when present).
  Posterior encode(const torch::Tensor& x, VaeTrace* trace = nullptr);
  // z: [B, latent_channels, h, w] = latents / scaling_factor -> image ~[-1, 1], unclamped,
  // [B, out_channels, h * f, w * f]. Trace names: post_quant_conv (when present), decoder.*.
  torch::Tensor decode(const torch::Tensor& z, VaeTrace* trace = nullptr);

  const VaeConfig& config() const { return config_; }
  // Spatial factor between image and latent: 2^(levels-1) (8 in every real model).
  int downscale_factor() const;

 private:
  VaeConfig config_;
  VaeEncoder encoder_{nullptr};
  VaeDecoder decoder_{nullptr};
  // Null when the config has none (FLUX): then they are not registered, so no weight is asked for.
  torch::nn::Conv2d quant_conv_{nullptr}, post_quant_conv_{nullptr};
};
TORCH_MODULE(AutoencoderKL);

// The pipeline's latents -> the decoder's input: latents / scaling_factor + shift_factor.
torch::Tensor decoder_input_of(const torch::Tensor& latents, const VaeConfig& config);
// An encoder output (posterior mean or sample) -> the pipeline's latents:
// (sample - shift_factor) * scaling_factor. The inverse of decoder_input_of.
torch::Tensor pipeline_latents_of(const torch::Tensor& sample, const VaeConfig& config);

}  // namespace dd::models
