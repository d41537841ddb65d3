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

// Gives the heap pages that a converted block's float32 parameters just freed back to the
// system. Left in the heap, the holes of all the blocks built so far added up: SDXL's UNet stood
// at 6.8 GB built where it needs 5.2, and OpenCLIP-G's encoder 0.8 GB above its 1.4.
void release_freed_heap();

// `block`, converted to build_dtype() when that is not float32.
template <class ModuleHolder>
ModuleHolder built(ModuleHolder block) {
  if (build_dtype() == torch::kFloat32) return block;
  block->to(build_dtype());
  release_freed_heap();
  return block;
}

}  // namespace dd::models
