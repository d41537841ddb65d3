#pragma once
// The CLI's preview file of a running generation: every few steps the sampler's current latents
// go through a preview decoder (pipeline/preview_decoder.h) and the first sample is written as a
// PNG, replaced atomically so that a viewer polling the file never reads half of one.
#include <string>

#include "pipeline/preview_decoder.h"

namespace dd::pipeline {

class LatentPreview {
 public:
  // Writes `path` after every `every`-th step and after the last one. dd::Error when `every` is
  // below 1.
  LatentPreview(PreviewDecoder decoder, std::string path, int every);

  // For GenerationHooks::latents.
  void operator()(int step, int total, const torch::Tensor& latents);
  int written() const { return written_; }

 private:
  PreviewDecoder decoder_;
  std::string path_;
  int every_;
  int written_ = 0;
};

}  // namespace dd::pipeline
