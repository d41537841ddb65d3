#pragma once
// Where a FLUX.1 transformer's weights live. The module (flux_transformer.h) uses Black Forest
// Labs' names. A BFL file stores exactly those, with no prefix (flux1-dev.safetensors) or under
// ComfyUI's `model.diffusion_model.`; a diffusers `transformer/` folder stores diffusers' names
// with q, k and v (and the single blocks' MLP input) as separate Linears and the final
// modulation's two halves in the other order. The adapter here serves BFL names from the
// diffusers layout, one tensor at a time when asked, so loading never holds a second copy.
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "io/safetensors.h"
#include "models/flux_config.h"
#include "models/weights.h"

namespace dd::models {

// The diffusers tensors one BFL tensor is made of: concatenated along dim 0 in this order, then
// (final_layer.adaLN_modulation.1 only) its two halves swapped ([scale, shift] -> [shift, scale]).
struct FluxDiffusersParts {
  std::vector<std::string> keys;
  bool swap_halves = false;
};
// A dd::Error for a name that is not a FLUX transformer tensor.
FluxDiffusersParts flux_diffusers_parts(const std::string& bfl_name);

// Serves BFL names from diffusers-layout tensors: one file, or the shards of a sharded folder
// (each key is looked up in whichever file holds it), all keys under `prefix`.
class FluxDiffusersWeights : public WeightSource {
 public:
  FluxDiffusersWeights(std::vector<std::shared_ptr<const io::SafetensorsFile>> files,
                       std::string prefix = "");
  torch::Tensor get(const std::string& bfl_name) const override;
  bool has(const std::string& bfl_name) const override;
  void release_pages() const override;
  // The shape get() would return, without reading any data; nullopt when a part is missing.
  std::optional<std::vector<int64_t>> shape(const std::string& bfl_name) const;

 private:
  const io::TensorEntry* find(const std::string& key, const io::SafetensorsFile** file) const;
  const io::TensorEntry& at(const std::string& key, const std::string& bfl_name,
                            const io::SafetensorsFile** file) const;

  std::vector<std::shared_ptr<const io::SafetensorsFile>> files_;
  std::string prefix_;
  std::unordered_map<std::string, size_t> file_of_;  // stored key -> index into files_
};

// The prefix of a BFL-layout transformer in `file` ("" for BFL's release,
// "model.diffusion_model." for ComfyUI's, or whatever precedes `img_in.weight` next to
// `txt_in.weight`); nullopt when the file holds none.
std::optional<std::string> flux_bfl_prefix(const io::SafetensorsFile& file);
// The same for a diffusers-layout transformer (keys ending `x_embedder.weight` and
// `context_embedder.weight`).
std::optional<std::string> flux_diffusers_prefix(const io::SafetensorsFile& file);

// A FLUX transformer's weights, whatever the layout, as BFL names.
struct FluxWeightFiles {
  std::shared_ptr<const WeightSource> source;
  FluxShapeLookup shape_of;  // BFL name -> shape source->get() gives, for flux_config_from_shapes
  std::string layout;        // for messages: "bfl", "bfl, prefix '...'" or "diffusers"
};

// One .safetensors file, in BFL layout (any prefix) or diffusers layout. A dd::Error naming the
// file when it holds no FLUX transformer.
FluxWeightFiles open_flux_weights(std::shared_ptr<const io::SafetensorsFile> file);
// A diffusers `transformer/` folder: diffusion_pytorch_model.safetensors, or the shards that
// diffusion_pytorch_model.safetensors.index.json lists. (Its config: flux_config_from_json_file
// on <dir>/config.json.)
FluxWeightFiles open_flux_diffusers_folder(const std::string& transformer_dir);

}  // namespace dd::models
