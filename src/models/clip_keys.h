#pragma once
// Where a CLIP text encoder's weights live in single-file checkpoints. The module uses
// transformers' names (`text_model.encoder.layers.N.self_attn.q_proj.weight`, ...). SD1's
// encoder (and SDXL's first) stores exactly those names under a prefix; OpenCLIP encoders
// (SDXL's second, SD2's) use their own names, a fused q|k|v projection and a transposed
// text projection.
#include <memory>
#include <string>

#include "io/safetensors.h"
#include "models/config.h"
#include "models/weights.h"

namespace dd::models {

// Answers transformers names from an OpenCLIP text tower stored under `prefix`
// (e.g. "conditioner.embedders.1.model."): renames, slices q/k/v out of attn.in_proj_*, and
// transposes `text_projection` (stored [hidden, proj]) into a Linear weight [proj, hidden].
class OpenClipWeights : public WeightSource {
 public:
  OpenClipWeights(std::shared_ptr<const io::SafetensorsFile> file, std::string prefix);
  torch::Tensor get(const std::string& name) const override;
  bool has(const std::string& name) const override;
  void release_pages() const override;

  // How a transformers name is stored: the OpenCLIP key (with prefix) and, for q/k/v, which
  // third of the fused tensor (0, 1, 2; -1 = the whole tensor).
  struct Stored {
    std::string key;
    int qkv_part = -1;
    bool transposed = false;
  };
  Stored stored(const std::string& name) const;

 private:
  std::shared_ptr<const io::SafetensorsFile> file_;
  std::string prefix_;
};

// The encoder's weights in a single-file checkpoint, following config.single_file_layout and
// config.single_file_prefix.
std::unique_ptr<WeightSource> clip_single_file_weights(
    std::shared_ptr<const io::SafetensorsFile> file, const ClipTextConfig& config);

}  // namespace dd::models
