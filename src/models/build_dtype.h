#pragma once
// The dtype blocks of a model are converted to as soon as they are built. LibTorch's modules
// create their parameters in float32; building a whole SDXL UNet that way before converting it
// holds 10 GB where its bf16 weights need 5. Inside a BuildDtypeScope each block (a ResNet, a
// transformer block, a resampler) converts itself right after construction, so the float32
// copy that exists at any moment is one block's. The scope is per thread: models built or run
// on other threads meanwhile are untouched.
#include <torch/torch.h>

namespace dd::models {

class BuildDtypeScope {
 public:
  explicit BuildDtypeScope(torch::ScalarType dtype);
  ~BuildDtypeScope();
  BuildDtypeScope(const BuildDtypeScope&) = delete;
  BuildDtypeScope& operator=(const BuildDtypeScope&) = delete;

 private:
  torch::ScalarType previous_;
};

// float32 outside any scope.
torch::ScalarType build_dtype();

// `block`, converted to build_dtype() when that is not float32.
template <class ModuleHolder>
ModuleHolder built(ModuleHolder block) {
  if (build_dtype() != torch::kFloat32) block->to(build_dtype());
  return block;
}

}  // namespace dd::models
