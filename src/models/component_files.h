#pragma once
// The weights of one diffusers component folder (transformer/, text_encoder_2/, ...): its single
// .safetensors file, or the shards its *.safetensors.index.json lists, as the real FLUX.1 repos
// ship their transformer (3 shards) and T5 encoder (2 shards).
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "models/weights.h"

namespace dd::models {

using SafetensorsFiles = std::vector<std::shared_ptr<const io::SafetensorsFile>>;

// diffusion_pytorch_model.safetensors / model.safetensors (or their .fp16 variants), else the
// shards of the matching index. A dd::Error naming the folder when there is neither, or when
// the index is malformed or names a file outside the folder.
SafetensorsFiles component_weight_files(const std::string& component_dir);

// Reads each key from whichever file holds it, under `prefix`, renaming like FileWeights.
class MultiFileWeights : public WeightSource {
 public:
  MultiFileWeights(SafetensorsFiles files, std::string prefix = "", KeyRename rename = nullptr);
  torch::Tensor get(const std::string& name) const override;
  bool has(const std::string& name) const override;
  void release_pages() const override;

 private:
  const io::SafetensorsFile* holder(const std::string& key) const;
  std::string stored_key(const std::string& name) const;

  SafetensorsFiles files_;
  std::string prefix_;
  KeyRename rename_;
};

}  // namespace dd::models
