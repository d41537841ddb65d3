#pragma once
// The convolutional pieces of the UNet: the time-conditioned ResNet block and the 2x down- and
// upsamplers. Parameter names follow diffusers (checkpoint_keys.cpp maps them to LDM names).
#include <torch/torch.h>

namespace dd::models {

// GN-SiLU-conv1, + time_emb_proj(SiLU(emb)), GN-SiLU-conv2, + x (through a 1x1 conv_shortcut
// when the channel count changes).
class ResnetBlockImpl : public torch::nn::Module {
 public:
  ResnetBlockImpl(int in_channels, int out_channels, int time_embed_dim, int groups, double eps);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& emb);

 private:
  torch::nn::GroupNorm norm1{nullptr}, norm2{nullptr};
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv_shortcut{nullptr};
  torch::nn::Linear time_emb_proj{nullptr};
};
TORCH_MODULE(ResnetBlock);

// 3x3 convolution with stride 2 and padding 1: an odd size d becomes ceil(d / 2).
class DownsampleImpl : public torch::nn::Module {
 public:
  explicit DownsampleImpl(int channels);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(Downsample);

// Nearest resize to `size` (the matching skip tensor's height and width, which is 2x unless a
// level had an odd size) followed by a 3x3 convolution.
class UpsampleImpl : public torch::nn::Module {
 public:
  explicit UpsampleImpl(int channels);
  torch::Tensor forward(const torch::Tensor& x, at::IntArrayRef size);

 private:
  torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(Upsample);

}  // namespace dd::models
