#include "models/flux_config.h"

#include <fstream>
#include <numeric>

#include "util/error.h"

namespace dd::models {

namespace {

template <typename T>
T required(const nlohmann::json& config, const char* key, const std::string& origin) {
  if (!config.contains(key) || config[key].is_null())
    throw Error(origin + ": missing '" + key + "'");
  try {
    return config[key].get<T>();
  } catch (const nlohmann::json::exception&) {
    throw Error(origin + ": '" + key + "' has the wrong type");
  }
}

template <typename T>
T optional(const nlohmann::json& config, const char* key, T fallback, const std::string& origin) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  return required<T>(config, key, origin);
}

std::string join(const std::vector<int>& values) {
  std::string out;
  for (int v : values) out += (out.empty() ? "" : ", ") + std::to_string(v);
  return out;
}

std::string join(const std::vector<int64_t>& values) {
  return join(std::vector<int>(values.begin(), values.end()));
}

// Shapes used by detection, each a dd::Error when absent or of the wrong rank.
struct ShapeReader {
  const FluxShapeLookup& shape_of;

  std::vector<int64_t> get(const std::string& name, size_t rank) const {
    auto shape = shape_of(name);
    if (!shape) throw Error("FLUX checkpoint: no tensor '" + name + "'");
    if (shape->size() != rank)
      throw Error("FLUX checkpoint: tensor '" + name + "' has shape [" + join(*shape) +
                  "], expected " + std::to_string(rank) + " dimensions");
    return *shape;
  }

  // Blocks are numbered from 0 without gaps: the count is the first index with no tensor.
  int count(const std::string& prefix, const std::string& probe) const {
    int n = 0;
    while (shape_of(prefix + std::to_string(n) + probe)) ++n;
    return n;
  }
};

}  // namespace

void FluxConfig::validate() const {
  const auto fail = [](const std::string& what) { throw Error("FLUX config: " + what); };
  if (in_channels <= 0 || out_channels <= 0 || context_in_dim <= 0 || vec_in_dim <= 0)
    fail("channel widths must be positive");
  if (num_heads <= 0 || head_dim <= 0 || hidden_size != num_heads * head_dim)
    fail("hidden_size " + std::to_string(hidden_size) + " != num_heads " +
         std::to_string(num_heads) + " x head_dim " + std::to_string(head_dim));
  if (head_dim % 2 != 0) fail("head_dim " + std::to_string(head_dim) + " must be even (RoPE)");
  if (depth < 0 || depth_single < 0 || depth + depth_single == 0) fail("no blocks");
  if (axes_dim.empty() || std::accumulate(axes_dim.begin(), axes_dim.end(), 0) != head_dim)
    fail("axes_dim (" + join(axes_dim) + ") must sum to head_dim " + std::to_string(head_dim));
  for (int d : axes_dim)
    if (d <= 0 || d % 2 != 0) fail("axes_dim (" + join(axes_dim) + ") must be positive and even");
  if (theta <= 0) fail("theta must be positive");
  if (mlp_ratio <= 0 || mlp_hidden() <= 0) fail("mlp_ratio must be positive");
}

FluxConfig flux_config_from_arch_json(const nlohmann::json& arch) {
  const std::string origin = "FLUX architecture JSON";
  const auto& t = arch.contains("transformer") ? arch["transformer"] : arch;
  FluxConfig c;
  c.hidden_size = required<int>(t, "hidden_size", origin);
  c.num_heads = required<int>(t, "num_heads", origin);
  c.head_dim = optional<int>(t, "head_dim", c.num_heads ? c.hidden_size / c.num_heads : 0, origin);
  c.depth = required<int>(t, "depth", origin);
  c.depth_single = required<int>(t, "depth_single_blocks", origin);
  c.in_channels = required<int>(t, "in_channels", origin);
  c.out_channels = optional<int>(t, "out_channels", c.in_channels, origin);
  c.context_in_dim = required<int>(t, "context_in_dim", origin);
  c.vec_in_dim = required<int>(t, "vec_in_dim", origin);
  c.mlp_ratio = optional<double>(t, "mlp_ratio", 4.0, origin);
  c.guidance_embed = required<bool>(t, "guidance_embed", origin);
  c.axes_dim = required<std::vector<int>>(t, "axes_dim", origin);
  c.theta = optional<double>(t, "theta", 10000.0, origin);
  c.validate();
  return c;
}

FluxConfig flux_config_from_diffusers(const nlohmann::json& config) {
  const std::string origin = "FLUX transformer config.json";
  if (optional<int>(config, "patch_size", 1, origin) != 1)
    throw Error(origin + ": patch_size other than 1 is not FLUX.1");
  FluxConfig c;
  c.in_channels = optional<int>(config, "in_channels", 64, origin);
  c.out_channels = optional<int>(config, "out_channels", c.in_channels, origin);
  c.depth = optional<int>(config, "num_layers", 19, origin);
  c.depth_single = optional<int>(config, "num_single_layers", 38, origin);
  c.head_dim = optional<int>(config, "attention_head_dim", 128, origin);
  c.num_heads = optional<int>(config, "num_attention_heads", 24, origin);
  c.hidden_size = c.num_heads * c.head_dim;
  c.context_in_dim = optional<int>(config, "joint_attention_dim", 4096, origin);
  c.vec_in_dim = optional<int>(config, "pooled_projection_dim", 768, origin);
  c.guidance_embed = optional<bool>(config, "guidance_embeds", false, origin);
  c.axes_dim = optional<std::vector<int>>(config, "axes_dims_rope", {16, 56, 56}, origin);
  c.validate();
  return c;
}

FluxConfig flux_config_from_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read FLUX config '" + path + "'");
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error("FLUX config '" + path + "' is not valid JSON: " + e.what());
  }
  try {
    if (json.contains("transformer")) return flux_config_from_arch_json(json);
    if (json.contains("num_layers")) return flux_config_from_diffusers(json);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  throw Error("FLUX config '" + path +
              "' is neither an architecture JSON (no 'transformer') nor a diffusers transformer "
              "config (no 'num_layers')");
}

FluxConfig flux_config_from_shapes(const FluxShapeLookup& shape_of,
                                   std::optional<std::vector<int>> axes_dim) {
  const ShapeReader read{shape_of};
  FluxConfig c;
  const auto img_in = read.get("img_in.weight", 2);
  c.hidden_size = static_cast<int>(img_in[0]);
  c.in_channels = static_cast<int>(img_in[1]);
  c.context_in_dim = static_cast<int>(read.get("txt_in.weight", 2)[1]);
  c.vec_in_dim = static_cast<int>(read.get("vector_in.in_layer.weight", 2)[1]);
  c.out_channels = static_cast<int>(read.get("final_layer.linear.weight", 2)[0]);
  c.guidance_embed = shape_of("guidance_in.in_layer.bias").has_value();
  c.depth = read.count("double_blocks.", ".img_attn.qkv.weight");
  c.depth_single = read.count("single_blocks.", ".linear1.weight");
  // Both kinds of block carry the q/k norm scale [head_dim] and the MLP width.
  const bool doubles = c.depth > 0;
  c.head_dim = static_cast<int>(read.get(doubles ? "double_blocks.0.img_attn.norm.query_norm.scale"
                                                 : "single_blocks.0.norm.query_norm.scale",
                                         1)[0]);
  const int64_t mlp =
      doubles ? read.get("double_blocks.0.img_mlp.0.weight", 2)[0]
              : read.get("single_blocks.0.linear1.weight", 2)[0] - 3 * int64_t{c.hidden_size};
  c.mlp_ratio = static_cast<double>(mlp) / c.hidden_size;
  if (c.head_dim <= 0 || c.hidden_size % c.head_dim != 0)
    throw Error("FLUX checkpoint: width " + std::to_string(c.hidden_size) +
                " is not a multiple of the q/k norm width " + std::to_string(c.head_dim));
  c.num_heads = c.hidden_size / c.head_dim;
  if (axes_dim) {
    c.axes_dim = *axes_dim;
  } else if (c.head_dim != 128) {
    throw Error("FLUX checkpoint: head_dim " + std::to_string(c.head_dim) +
                " is not FLUX.1's 128, and the RoPE axes_dim split is not stored in a "
                "checkpoint; give the model's architecture JSON or diffusers config");
  }
  c.validate();
  return c;
}

std::string describe(const FluxConfig& c) {
  return "FLUX transformer D " + std::to_string(c.hidden_size) + " (" +
         std::to_string(c.num_heads) + " x " + std::to_string(c.head_dim) + "), " +
         std::to_string(c.depth) + " double + " + std::to_string(c.depth_single) +
         " single blocks, in " + std::to_string(c.in_channels) + ", out " +
         std::to_string(c.out_channels) + ", context " + std::to_string(c.context_in_dim) +
         ", pooled " + std::to_string(c.vec_in_dim) + ", axes (" + join(c.axes_dim) + ")" +
         (c.guidance_embed ? ", guidance embedder" : "");
}

}  // namespace dd::models
