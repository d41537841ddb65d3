#pragma once
// One resolution level of the UNet (diffusers' down / mid / up blocks): ResNet blocks, each
// followed by a spatial transformer on levels with attention, and a resampler. The skip
// tensors flow between them through a stack: down blocks push, up blocks pop.
#include <torch/torch.h>

#include <vector>

#include "models/config.h"

namespace dd::models {

// Down level `level`: layers_per_block x (resnet [+ attention]), then a downsampler unless it
// is the deepest level. Pushes every resnet/attention output and the downsampler output.
class DownBlockImpl : public torch::nn::Module {
 public:
  DownBlockImpl(const UNetConfig& config, int level, int in_channels);
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& emb, const torch::Tensor& context,
                        std::vector<torch::Tensor>& skips);

 private:
  torch::nn::ModuleList resnets, attentions, downsamplers;
};
TORCH_MODULE(DownBlock);

// resnet, attention, resnet at the deepest resolution.
class MidBlockImpl : public torch::nn::Module {
 public:
  explicit MidBlockImpl(const UNetConfig& config);
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& emb, const torch::Tensor& context);

 private:
  torch::nn::ModuleList resnets, attentions;
};
TORCH_MODULE(MidBlock);

// The up level mirroring down level `level`: layers_per_block + 1 x (concat a popped skip,
// resnet [+ attention]), then an upsampler (to the next skip's size) unless it is level 0.
// `skip_channels` lists the channels of the skips it will pop, in popping order.
class UpBlockImpl : public torch::nn::Module {
 public:
  UpBlockImpl(const UNetConfig& config, int level, int in_channels,
              const std::vector<int>& skip_channels);
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& emb, const torch::Tensor& context,
                        std::vector<torch::Tensor>& skips);

 private:
  torch::nn::ModuleList resnets, attentions, upsamplers;
};
TORCH_MODULE(UpBlock);

}  // namespace dd::models
