#include "models/unet_blocks.h"

#include "models/fresh_tensor_ops.h"

namespace dd::models {

namespace nn = torch::nn;

namespace {

nn::Conv2d conv3x3(int in, int out, int stride = 1) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1));
}

}  // namespace

ResnetBlockImpl::ResnetBlockImpl(int in_channels, int out_channels, int time_embed_dim, int groups,
                                 double eps) {
  norm1 =
      register_module("norm1", nn::GroupNorm(nn::GroupNormOptions(groups, in_channels).eps(eps)));
  conv1 = register_module("conv1", conv3x3(in_channels, out_channels));
  time_emb_proj = register_module("time_emb_proj", nn::Linear(time_embed_dim, out_channels));
  norm2 =
      register_module("norm2", nn::GroupNorm(nn::GroupNormOptions(groups, out_channels).eps(eps)));
  conv2 = register_module("conv2", conv3x3(out_channels, out_channels));
  if (in_channels != out_channels)
    conv_shortcut = register_module("conv_shortcut", nn::Conv2d(in_channels, out_channels, 1));
}

torch::Tensor ResnetBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& emb) {
  auto h = conv1(silu_fresh(norm1(x)));
  h = add_to_fresh(h, time_emb_proj(torch::silu(emb)).unsqueeze(-1).unsqueeze(-1));
  h = conv2(silu_fresh(norm2(h)));
  return add_to_fresh(h, conv_shortcut ? conv_shortcut(x) : x);
}

DownsampleImpl::DownsampleImpl(int channels) {
  conv = register_module("conv", conv3x3(channels, channels, /*stride=*/2));
}

torch::Tensor DownsampleImpl::forward(const torch::Tensor& x) { return conv(x); }

UpsampleImpl::UpsampleImpl(int channels) {
  conv = register_module("conv", conv3x3(channels, channels));
}

torch::Tensor UpsampleImpl::forward(const torch::Tensor& x, at::IntArrayRef size) {
  const std::vector<int64_t> hw(size.begin(), size.end());
  return conv(torch::upsample_nearest2d(x, hw));
}

}  // namespace dd::models
