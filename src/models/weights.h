#pragma once
// Loading named weights into modules. Modules name their parameters as diffusers/transformers
// do (`down_blocks.0.attentions.0.proj_in.weight`); a WeightSource answers for those names,
// whatever the checkpoint layout (see checkpoint_keys.h for the single-file names).
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace dd::models {

class PackedWeight;

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  // The stored tensor for a canonical name, as float32 (F16/BF16/F8 are upcast exactly).
  // A missing tensor is a dd::Error naming the file and the stored key.
  virtual torch::Tensor get(const std::string& name) const = 0;
  virtual bool has(const std::string& name) const = 0;
  // The stored tensor kept in a block-quantised form (GGUF's Q8_0, Q4_K, ...), for a layer that
  // keeps it so (PackedLinear); nullptr when the source stores it otherwise or not at all.
  virtual std::shared_ptr<const PackedWeight> packed(const std::string& /*name*/) const {
    return nullptr;
  }
  // Drops the pages of the stored tensors read so far from resident memory (they are copied):
  // a source over a memory-mapped file would otherwise hold a second copy of the part while it
  // loads. Sources with nothing to drop do nothing.
  virtual void release_pages() const {}
};

// Maps a canonical (diffusers) name to the key stored in the file; the identity by default.
using KeyRename = std::function<std::string(const std::string&)>;

// Reads one prefix of a safetensors file, renaming keys.
class FileWeights : public WeightSource {
 public:
  FileWeights(std::shared_ptr<const io::SafetensorsFile> file, std::string prefix,
              KeyRename rename = nullptr);
  torch::Tensor get(const std::string& name) const override;
  bool has(const std::string& name) const override;
  void release_pages() const override;
  std::string stored_key(const std::string& name) const;

 private:
  std::shared_ptr<const io::SafetensorsFile> file_;
  std::string prefix_;
  KeyRename rename_;
};

// The one 8- or 16-bit float type (kHalf, kBFloat16, kFloat8_e4m3fn, kFloat8_e5m2) that every
// floating-point tensor whose key starts with `prefix` is stored in; kFloat32 when they are
// float32, mixed, or there are none. Weights kept in that type lose nothing.
torch::ScalarType stored_float_type(const io::SafetensorsFile& file, const std::string& prefix);

// Copies every parameter and buffer of `module` from `source`. A missing tensor or a shape that
// disagrees is a dd::Error naming `part` and the tensor. Shapes that differ only by trailing
// size-1 dimensions (a 1x1 conv stored for a linear layer, as in LDM VAE attention) are reshaped.
// A PackedLinear whose weight the source offers packed() gets that packed weight (it stays
// quantised in memory), and its empty placeholder `weight` is not looked up.
// The source's pages are released every `release_every_bytes` copied: small next to a part's
// weights (SDXL's UNet: 5 GB in bf16), large enough that the releases, each a walk over the
// whole mapping, stay few.
constexpr int64_t kReleasePagesEveryBytes = int64_t{64} << 20;
void load_weights(torch::nn::Module& module, const WeightSource& source, const std::string& part,
                  int64_t release_every_bytes = kReleasePagesEveryBytes);

}  // namespace dd::models
