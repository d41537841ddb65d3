#include "models/clip_keys.h"

#include <regex>

#include "io/tensor_file.h"
#include "util/error.h"

namespace dd::models {

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

// transformers' per-layer names -> OpenCLIP's resblock names (q/k/v handled separately).
const std::pair<const char*, const char*> kLayerRenames[] = {
    {"self_attn.out_proj.", "attn.out_proj."},
    {"layer_norm1.", "ln_1."},
    {"layer_norm2.", "ln_2."},
    {"mlp.fc1.", "mlp.c_fc."},
    {"mlp.fc2.", "mlp.c_proj."},
};

}  // namespace

OpenClipWeights::OpenClipWeights(std::shared_ptr<const io::SafetensorsFile> file,
                                 std::string prefix)
    : file_(std::move(file)), prefix_(std::move(prefix)) {}

OpenClipWeights::Stored OpenClipWeights::stored(const std::string& name) const {
  if (name == "text_model.embeddings.token_embedding.weight")
    return {prefix_ + "token_embedding.weight"};
  if (name == "text_model.embeddings.position_embedding.weight")
    return {prefix_ + "positional_embedding"};
  if (starts_with(name, "text_model.final_layer_norm."))
    return {prefix_ + "ln_final." +
            name.substr(std::string("text_model.final_layer_norm.").size())};
  if (name == "text_projection.weight") return {prefix_ + "text_projection", -1, true};

  static const std::regex layer(R"(text_model\.encoder\.layers\.(\d+)\.(.+))");
  std::smatch m;
  if (std::regex_match(name, m, layer)) {
    const std::string block = prefix_ + "transformer.resblocks." + m[1].str() + ".";
    const std::string rest = m[2].str();
    static const std::regex qkv(R"(self_attn\.([qkv])_proj\.(weight|bias))");
    std::smatch p;
    if (std::regex_match(rest, p, qkv)) {
      const int part = p[1].str() == "q" ? 0 : p[1].str() == "k" ? 1 : 2;
      return {block + "attn.in_proj_" + p[2].str(), part};
    }
    for (const auto& [from, to] : kLayerRenames)
      if (starts_with(rest, from)) return {block + to + rest.substr(std::string(from).size())};
  }
  throw Error("text encoder: no OpenCLIP name for '" + name + "'");
}

torch::Tensor OpenClipWeights::get(const std::string& name) const {
  const Stored s = stored(name);
  auto value = io::load_tensor(*file_, s.key, torch::kFloat32);
  if (s.qkv_part >= 0) {
    // in_proj_weight = cat([q, k, v], dim=0): rows [part * H, (part + 1) * H).
    if (value.size(0) % 3 != 0)
      throw Error(file_->path() + ": tensor '" + s.key + "' has " + std::to_string(value.size(0)) +
                  " rows, not a fused q|k|v (a multiple of 3)");
    value = value.chunk(3, 0)[s.qkv_part].contiguous();
  }
  if (s.transposed) value = value.t().contiguous();
  return value;
}

bool OpenClipWeights::has(const std::string& name) const {
  return file_->contains(stored(name).key);
}

void OpenClipWeights::release_pages() const { file_->release_pages(); }

std::unique_ptr<WeightSource> clip_single_file_weights(
    std::shared_ptr<const io::SafetensorsFile> file, const ClipTextConfig& config) {
  if (config.single_file_layout == TextLayout::OpenClip)
    return std::make_unique<OpenClipWeights>(std::move(file), config.single_file_prefix);
  return std::make_unique<FileWeights>(std::move(file), config.single_file_prefix);
}

}  // namespace dd::models
