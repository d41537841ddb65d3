#pragma once
// The sampler's draws come from CPU generators, so that a seed makes the same image on every
// device; they are moved to the model's device as they are drawn.
#include <torch/torch.h>

#include <memory>

#include "sampling/sampler.h"

namespace dd::pipeline {

class NoiseOnDevice : public sampling::NoiseSource {
 public:
  NoiseOnDevice(std::shared_ptr<sampling::NoiseSource> source, torch::Device device)
      : source_(std::move(source)), device_(device) {}
  torch::Tensor next(at::IntArrayRef shape) override { return source_->next(shape).to(device_); }

 private:
  std::shared_ptr<sampling::NoiseSource> source_;
  torch::Device device_;
};

}  // namespace dd::pipeline
