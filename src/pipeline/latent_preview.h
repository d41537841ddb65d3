#pragma once
// Previews of a running generation: every few steps the sampler's current latents go through a
// tiny decoder (models/tiny_decoder.h) and the first sample is written as a PNG, replaced
// atomically so that a viewer polling the file never reads half of one.
#include <string>

#include "models/tiny_decoder.h"

namespace dd::pipeline {

class LatentPreview {
 public:
  // Writes `path` after every `every`-th step and after the last one, decoding in `dtype` (the
  // model's: a bf16 preview costs about a third of a float32 one). The decoder is converted in
  // place. dd::Error when `every` is below 1, the decoder does not take `latent_channels`-channel
  // latents or dtype is neither float32 nor bfloat16.
  LatentPreview(models::TinyDecoder decoder, std::string path, int every, int latent_channels,
                torch::ScalarType dtype = torch::kFloat32);

  // For GenerationHooks::latents.
  void operator()(int step, int total, const torch::Tensor& latents);
  int written() const { return written_; }

 private:
  models::TinyDecoder decoder_;
  std::string path_;
  int every_;
  torch::ScalarType dtype_;
  int written_ = 0;
};

}  // namespace dd::pipeline
