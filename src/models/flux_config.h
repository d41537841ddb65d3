#pragma once
// Hyperparameters of a FLUX.1 transformer (Black Forest Labs' `FluxParams`), from an
// architecture JSON (the fixtures' <model>.arch.json), a diffusers `transformer/config.json`, or
// detected from the tensor shapes of a checkpoint. No tensors here.
//
// What shapes tell (BFL names): width D and in_channels from `img_in.weight` [D, in], the text
// width from `txt_in.weight`, the pooled width from `vector_in.in_layer.weight`, out_channels
// from `final_layer.linear.weight`, the MLP width from `double_blocks.0.img_mlp.0.weight`,
// head_dim from the q/k RMSNorm scale `double_blocks.0.img_attn.norm.query_norm.scale`
// [head_dim], the depths from the highest block indices, and dev-vs-schnell from the presence of
// `guidance_in.in_layer.bias`. Not stored anywhere: the RoPE split axes_dim (real FLUX.1:
// 16, 56, 56 for head_dim 128) and theta (10000).
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace dd::models {

struct FluxConfig {
  int in_channels = 64;  // 16 latent channels x 2x2 patch; Fill: 384 (+ masked image + mask)
  int out_channels = 64;
  int hidden_size = 3072;  // D = num_heads * head_dim
  int num_heads = 24;
  int head_dim = 128;
  int depth = 19;                         // double-stream blocks
  int depth_single = 38;                  // single-stream blocks
  std::vector<int> axes_dim{16, 56, 56};  // RoPE dims per id axis; sum = head_dim
  double theta = 10000;
  int context_in_dim = 4096;  // T5 d_model
  int vec_in_dim = 768;       // CLIP pooled width
  double mlp_ratio = 4.0;
  bool guidance_embed = true;  // dev/Fill: true; schnell: false

  int mlp_hidden() const { return static_cast<int>(hidden_size * mlp_ratio); }
  // A dd::Error naming the first inconsistent value (widths, axes summing to head_dim, ...).
  void validate() const;
  bool operator==(const FluxConfig&) const = default;
};

// From an architecture JSON: the whole file (its "transformer" object is read) or that object.
FluxConfig flux_config_from_arch_json(const nlohmann::json& arch);

// From diffusers' FluxTransformer2DModel config.json (out_channels defaults to in_channels, as
// there; mlp_ratio 4 and theta 10000 are fixed in diffusers).
FluxConfig flux_config_from_diffusers(const nlohmann::json& config);

// Reads a JSON file and parses it as whichever of the two it is (an architecture JSON has a
// "transformer" object; a diffusers config has "num_layers").
FluxConfig flux_config_from_json_file(const std::string& path);

// The shape of a tensor by its BFL name, or nullopt when the checkpoint lacks it.
using FluxShapeLookup =
    std::function<std::optional<std::vector<int64_t>>(const std::string& bfl_name)>;

// Detected from a checkpoint's shapes (see the top of this file). axes_dim is not stored: when
// not given it is the real (16, 56, 56) for head_dim 128, and a dd::Error for any other head_dim
// (a tiny or unusual model needs its architecture JSON or diffusers config).
FluxConfig flux_config_from_shapes(const FluxShapeLookup& shape_of,
                                   std::optional<std::vector<int>> axes_dim = std::nullopt);

std::string describe(const FluxConfig& config);

}  // namespace dd::models
