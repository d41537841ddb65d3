#pragma once
// A TAESD-style tiny latent decoder for previews: a plain stack of 3x3 convolutions, ReLU
// residual blocks and nearest-neighbour upsampling (the architecture of "Tiny AutoEncoder for
// Stable Diffusion"), about 6% of the real VAE decoder's work at 512x512 (0.14 vs 2.5 TFLOP). It
// decodes the latents the UNet sees (already multiplied by the VAE's scaling factor) straight to
// [0, 1] RGB, so a preview costs a fraction of a second at 512x512 instead of seconds.
//
// Layer order (index: layer), for S upsampling stages of B blocks each:
//   0 conv latent->C, 1 ReLU, then per stage: B blocks, upsample x2, conv C->C (no bias),
//   then one block and the output conv C->3. A block is relu(conv(relu(conv(relu(conv(x))))) + x).
#include <torch/torch.h>

#include <string>

namespace dd::models {

struct TinyDecoderConfig {
  int latent_channels = 4;   // 4 for SD 1.x/2.x and SDXL
  int channels = 64;         // width of every hidden layer
  int upsamples = 3;         // latent-to-image factor 2^upsamples (3: the VAE's 8)
  int blocks_per_stage = 3;  // residual blocks before each upsampling
};

class TinyDecoderImpl : public torch::nn::Module {
 public:
  explicit TinyDecoderImpl(const TinyDecoderConfig& config);
  // [N, latent_channels, h, w] scaled latents -> [N, 3, h * 2^upsamples, w * 2^upsamples] in
  // [0, 1]. Latents are first soft-clamped to (-3, 3) (tanh(x / 3) * 3), as the design expects.
  torch::Tensor forward(const torch::Tensor& latents);
  const TinyDecoderConfig& config() const { return config_; }

 private:
  TinyDecoderConfig config_;
  torch::nn::Sequential layers_{nullptr};
};
TORCH_MODULE(TinyDecoder);

// Loads a tiny decoder from a .safetensors file in either published layout: the original TAESD
// one (taesd_decoder.safetensors, keys "1.weight", "3.conv.0.weight", ...; index 0 is the clamp)
// or diffusers' AutoencoderTiny (keys "decoder.layers.0.weight", ...). The latent channels, width
// and number of upsampling stages are read off the tensors. A file that is neither, or whose
// tensors do not fit that architecture, is a dd::Error naming the file and the tensor.
TinyDecoder load_tiny_decoder(const std::string& path);

// Writes `decoder` in diffusers' AutoencoderTiny layout ("decoder.layers.<i>...", float32).
void save_tiny_decoder(TinyDecoder& decoder, const std::string& path);

}  // namespace dd::models
