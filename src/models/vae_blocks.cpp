#include "models/vae_blocks.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "models/attention.h"
#include "models/fresh_tensor_ops.h"

namespace dd::models {

namespace {

torch::nn::GroupNorm group_norm(int channels, VaeNorm norm) {
  return torch::nn::GroupNorm(torch::nn::GroupNormOptions(norm.groups, channels).eps(norm.eps));
}

torch::nn::Conv2d conv(int in, int out, int kernel, int stride = 1, int padding = 0) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding));
}

// Holds its conv under the name `conv`, as diffusers' Downsample2D / Upsample2D do.
class VaeDownsampleImpl : public torch::nn::Module {
 public:
  explicit VaeDownsampleImpl(int channels)
      : conv_(register_module("conv", conv(channels, channels, 3, /*stride=*/2))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    // Asymmetric padding (right and bottom only), unlike the UNet's symmetric padding 1: this is
    // what the original LDM autoencoder was trained with.
    return conv_(torch::constant_pad_nd(x, {0, 1, 0, 1}, 0));
  }

 private:
  torch::nn::Conv2d conv_;
};
TORCH_MODULE(VaeDownsample);

class VaeUpsampleImpl : public torch::nn::Module {
 public:
  explicit VaeUpsampleImpl(int channels)
      : conv_(register_module("conv", conv(channels, channels, 3, 1, 1))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    namespace F = torch::nn::functional;
    return conv_(F::interpolate(x, F::InterpolateFuncOptions()
                                       .scale_factor(std::vector<double>{2.0, 2.0})
                                       .mode(torch::kNearest)));
  }

 private:
  torch::nn::Conv2d conv_;
};
TORCH_MODULE(VaeUpsample);

}  // namespace

VaeResnetBlockImpl::VaeResnetBlockImpl(int in_channels, int out_channels, VaeNorm norm)
    : norm1_(register_module("norm1", group_norm(in_channels, norm))),
      norm2_(register_module("norm2", group_norm(out_channels, norm))),
      conv1_(register_module("conv1", conv(in_channels, out_channels, 3, 1, 1))),
      conv2_(register_module("conv2", conv(out_channels, out_channels, 3, 1, 1))) {
  if (in_channels != out_channels)
    conv_shortcut_ = register_module("conv_shortcut", conv(in_channels, out_channels, 1));
}

torch::Tensor VaeResnetBlockImpl::forward(const torch::Tensor& x) {
  auto h = conv1_(silu_fresh(norm1_(x)));
  h = conv2_(silu_fresh(norm2_(h)));
  return add_to_fresh(h, conv_shortcut_ ? conv_shortcut_(x) : x);
}

VaeAttentionImpl::VaeAttentionImpl(int channels, VaeNorm norm)
    : group_norm_(register_module("group_norm", group_norm(channels, norm))),
      to_q_(register_module("to_q", torch::nn::Linear(channels, channels))),
      to_k_(register_module("to_k", torch::nn::Linear(channels, channels))),
      to_v_(register_module("to_v", torch::nn::Linear(channels, channels))) {
  auto to_out = register_module("to_out", torch::nn::ModuleList());
  to_out_ = torch::nn::Linear(channels, channels);
  to_out->push_back(to_out_);
}

torch::Tensor VaeAttentionImpl::forward(const torch::Tensor& x) {
  const auto batch = x.size(0), channels = x.size(1), height = x.size(2), width = x.size(3);
  // [B, C, H, W] -> [B, H*W, C]: every pixel is a token.
  auto h = group_norm_(x).view({batch, channels, height * width}).transpose(1, 2);
  const auto q = to_q_(h), k = to_k_(h), v = to_v_(h);
  // One head over all pixels, through the UNet's attention kernel (fused: the [tokens, tokens]
  // scores, 1 GiB in fp32 for a 1024x1024 SDXL image, are never materialised).
  const auto out = to_out_(attention(q, k, v, 1.0 / std::sqrt(static_cast<double>(channels))));
  return out.transpose(1, 2).reshape({batch, channels, height, width}) + x;
}

VaeMidBlockImpl::VaeMidBlockImpl(int channels, VaeNorm norm)
    : resnets_(register_module("resnets", torch::nn::ModuleList())),
      attentions_(register_module("attentions", torch::nn::ModuleList())) {
  resnets_->push_back(VaeResnetBlock(channels, channels, norm));
  resnets_->push_back(VaeResnetBlock(channels, channels, norm));
  attentions_->push_back(VaeAttention(channels, norm));
}

torch::Tensor VaeMidBlockImpl::forward(const torch::Tensor& x) {
  auto h = resnets_[0]->as<VaeResnetBlock>()->forward(x);
  h = attentions_[0]->as<VaeAttention>()->forward(h);
  return resnets_[1]->as<VaeResnetBlock>()->forward(h);
}

VaeDownBlockImpl::VaeDownBlockImpl(int in_channels, int out_channels, int layers, bool downsample,
                                   VaeNorm norm)
    : resnets_(register_module("resnets", torch::nn::ModuleList())),
      downsamplers_(register_module("downsamplers", torch::nn::ModuleList())) {
  for (int j = 0; j < layers; ++j)
    resnets_->push_back(VaeResnetBlock(j == 0 ? in_channels : out_channels, out_channels, norm));
  if (downsample) downsamplers_->push_back(VaeDownsample(out_channels));
}

torch::Tensor VaeDownBlockImpl::forward(torch::Tensor x) {
  for (const auto& resnet : *resnets_) x = resnet->as<VaeResnetBlock>()->forward(x);
  for (const auto& down : *downsamplers_) x = down->as<VaeDownsample>()->forward(x);
  return x;
}

VaeUpBlockImpl::VaeUpBlockImpl(int in_channels, int out_channels, int layers, bool upsample,
                               VaeNorm norm)
    : resnets_(register_module("resnets", torch::nn::ModuleList())),
      upsamplers_(register_module("upsamplers", torch::nn::ModuleList())) {
  for (int j = 0; j < layers; ++j)
    resnets_->push_back(VaeResnetBlock(j == 0 ? in_channels : out_channels, out_channels, norm));
  if (upsample) upsamplers_->push_back(VaeUpsample(out_channels));
}

torch::Tensor VaeUpBlockImpl::forward(torch::Tensor x) {
  for (const auto& resnet : *resnets_) x = resnet->as<VaeResnetBlock>()->forward(x);
  for (const auto& up : *upsamplers_) x = up->as<VaeUpsample>()->forward(x);
  return x;
}

}  // namespace dd::models
