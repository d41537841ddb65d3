#pragma once
// The building blocks of the VAE (diffusers' AutoencoderKL): a ResNet block without time
// embedding, the single-head mid-block attention, and the mid / down / up blocks. Submodule
// names follow diffusers so load_weights can fill them by name.
#include <torch/torch.h>

#include <map>
#include <string>

namespace dd::models {

// Optional record of intermediate tensors by diffusers' module path (the fixtures' dbg.* names),
// for localising a numerical difference. Null when not wanted.
using VaeTrace = std::map<std::string, torch::Tensor>;

struct VaeNorm {
  int groups;
  double eps;
};

// GN-SiLU-conv1, GN-SiLU-conv2, plus the input (through a 1x1 conv when channels change).
class VaeResnetBlockImpl : public torch::nn::Module {
 public:
  VaeResnetBlockImpl(int in_channels, int out_channels, VaeNorm norm);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::GroupNorm norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv_shortcut_{nullptr};
};
TORCH_MODULE(VaeResnetBlock);

// Single-head self-attention over all pixels, with a residual connection.
class VaeAttentionImpl : public torch::nn::Module {
 public:
  VaeAttentionImpl(int channels, VaeNorm norm);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::GroupNorm group_norm_{nullptr};
  torch::nn::Linear to_q_{nullptr}, to_k_{nullptr}, to_v_{nullptr}, to_out_{nullptr};
};
TORCH_MODULE(VaeAttention);

// resnet, attention, resnet at the lowest resolution.
class VaeMidBlockImpl : public torch::nn::Module {
 public:
  VaeMidBlockImpl(int channels, VaeNorm norm);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::ModuleList resnets_{nullptr}, attentions_{nullptr};
};
TORCH_MODULE(VaeMidBlock);

// Encoder level: `layers` resnets, then (except at the last level) a stride-2 downsample.
class VaeDownBlockImpl : public torch::nn::Module {
 public:
  VaeDownBlockImpl(int in_channels, int out_channels, int layers, bool downsample, VaeNorm norm);
  torch::Tensor forward(torch::Tensor x);

 private:
  torch::nn::ModuleList resnets_{nullptr}, downsamplers_{nullptr};
};
TORCH_MODULE(VaeDownBlock);

// Decoder level: `layers` resnets, then (except at the last level) nearest x2 + conv.
class VaeUpBlockImpl : public torch::nn::Module {
 public:
  VaeUpBlockImpl(int in_channels, int out_channels, int layers, bool upsample, VaeNorm norm);
  torch::Tensor forward(torch::Tensor x);

 private:
  torch::nn::ModuleList resnets_{nullptr}, upsamplers_{nullptr};
};
TORCH_MODULE(VaeUpBlock);

}  // namespace dd::models
