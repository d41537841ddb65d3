#include "models/flux_keys.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "io/tensor_file.h"
#include "models/component_files.h"
#include "util/error.h"

namespace dd::models {

namespace fs = std::filesystem;

namespace {

using Stems = std::vector<std::string>;

// BFL module path -> diffusers module paths, within one double block.
const std::map<std::string, Stems>& double_block_stems() {
  static const std::map<std::string, Stems> stems{
      {"img_mod.lin", {"norm1.linear"}},
      {"txt_mod.lin", {"norm1_context.linear"}},
      {"img_attn.qkv", {"attn.to_q", "attn.to_k", "attn.to_v"}},
      {"txt_attn.qkv", {"attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj"}},
      {"img_attn.norm.query_norm", {"attn.norm_q"}},
      {"img_attn.norm.key_norm", {"attn.norm_k"}},
      {"txt_attn.norm.query_norm", {"attn.norm_added_q"}},
      {"txt_attn.norm.key_norm", {"attn.norm_added_k"}},
      {"img_attn.proj", {"attn.to_out.0"}},
      {"txt_attn.proj", {"attn.to_add_out"}},
      {"img_mlp.0", {"ff.net.0.proj"}},
      {"img_mlp.2", {"ff.net.2"}},
      {"txt_mlp.0", {"ff_context.net.0.proj"}},
      {"txt_mlp.2", {"ff_context.net.2"}},
  };
  return stems;
}

const std::map<std::string, Stems>& single_block_stems() {
  static const std::map<std::string, Stems> stems{
      {"linear1", {"attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp"}},
      {"linear2", {"proj_out"}},
      {"modulation.lin", {"norm.linear"}},
      {"norm.query_norm", {"attn.norm_q"}},
      {"norm.key_norm", {"attn.norm_k"}},
  };
  return stems;
}

const std::map<std::string, Stems>& top_level_stems() {
  static const std::map<std::string, Stems> stems{
      {"img_in", {"x_embedder"}},
      {"txt_in", {"context_embedder"}},
      {"time_in.in_layer", {"time_text_embed.timestep_embedder.linear_1"}},
      {"time_in.out_layer", {"time_text_embed.timestep_embedder.linear_2"}},
      {"vector_in.in_layer", {"time_text_embed.text_embedder.linear_1"}},
      {"vector_in.out_layer", {"time_text_embed.text_embedder.linear_2"}},
      {"guidance_in.in_layer", {"time_text_embed.guidance_embedder.linear_1"}},
      {"guidance_in.out_layer", {"time_text_embed.guidance_embedder.linear_2"}},
      {"final_layer.linear", {"proj_out"}},
      {"final_layer.adaLN_modulation.1", {"norm_out.linear"}},
  };
  return stems;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "double_blocks.12.img_attn.qkv" -> {"12", "img_attn.qkv"} when it starts with `group`.
std::optional<std::pair<std::string, std::string>> block_path(const std::string& path,
                                                              const std::string& group) {
  if (!starts_with(path, group + ".")) return std::nullopt;
  const auto rest = path.substr(group.size() + 1);
  const auto dot = rest.find('.');
  if (dot == std::string::npos || dot == 0) return std::nullopt;
  const auto index = rest.substr(0, dot);
  if (index.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::make_pair(index, rest.substr(dot + 1));
}

// Module paths in diffusers' layout for a BFL module path, or empty when unknown.
Stems diffusers_stems(const std::string& path) {
  const auto lookup = [](const std::map<std::string, Stems>& table, const std::string& key) {
    const auto it = table.find(key);
    return it == table.end() ? Stems{} : it->second;
  };
  const auto prefixed = [](Stems stems, const std::string& prefix) {
    for (auto& s : stems) s = prefix + s;
    return stems;
  };
  if (auto block = block_path(path, "double_blocks"))
    return prefixed(lookup(double_block_stems(), block->second),
                    "transformer_blocks." + block->first + ".");
  if (auto block = block_path(path, "single_blocks"))
    return prefixed(lookup(single_block_stems(), block->second),
                    "single_transformer_blocks." + block->first + ".");
  return lookup(top_level_stems(), path);
}

// The key whose name ends in `leaf`, with `partner` (same prefix) present too.
std::optional<std::string> prefix_of(const io::SafetensorsFile& file, const std::string& leaf,
                                     const std::string& partner) {
  for (const auto& entry : file.entries()) {
    if (!ends_with(entry.name, leaf)) continue;
    const auto prefix = entry.name.substr(0, entry.name.size() - leaf.size());
    if (!prefix.empty() && prefix.back() != '.') continue;
    if (file.contains(prefix + partner)) return prefix;
  }
  return std::nullopt;
}

FluxShapeLookup bfl_shapes(std::shared_ptr<const io::SafetensorsFile> file, std::string prefix) {
  return [file = std::move(file), prefix = std::move(prefix)](
             const std::string& name) -> std::optional<std::vector<int64_t>> {
    const auto* entry = file->find(prefix + name);
    if (!entry) return std::nullopt;
    return entry->shape;
  };
}

}  // namespace

FluxDiffusersParts flux_diffusers_parts(const std::string& bfl_name) {
  const auto dot = bfl_name.rfind('.');
  if (dot != std::string::npos) {
    const auto leaf = bfl_name.substr(dot + 1);
    const auto stems = diffusers_stems(bfl_name.substr(0, dot));
    // Norm scales are `scale` in BFL and `weight` in diffusers; Linears keep weight and bias.
    const bool is_norm = ends_with(bfl_name, "_norm.scale");
    if (!stems.empty() && (is_norm ? leaf == "scale" : (leaf == "weight" || leaf == "bias"))) {
      FluxDiffusersParts parts;
      for (const auto& stem : stems)
        parts.keys.push_back(stem + (is_norm ? ".weight" : "." + leaf));
      parts.swap_halves = starts_with(bfl_name, "final_layer.adaLN_modulation.1.");
      return parts;
    }
  }
  throw Error("'" + bfl_name + "' is not a tensor of a FLUX transformer");
}

FluxDiffusersWeights::FluxDiffusersWeights(
    std::vector<std::shared_ptr<const io::SafetensorsFile>> files, std::string prefix)
    : files_(std::move(files)), prefix_(std::move(prefix)) {
  for (size_t i = 0; i < files_.size(); ++i)
    for (const auto& entry : files_[i]->entries()) file_of_.emplace(entry.name, i);
}

const io::TensorEntry* FluxDiffusersWeights::find(const std::string& key,
                                                  const io::SafetensorsFile** file) const {
  const auto it = file_of_.find(prefix_ + key);
  if (it == file_of_.end()) return nullptr;
  *file = files_[it->second].get();
  return (*file)->find(prefix_ + key);
}

const io::TensorEntry& FluxDiffusersWeights::at(const std::string& key, const std::string& bfl_name,
                                                const io::SafetensorsFile** file) const {
  if (const auto* entry = find(key, file)) return *entry;
  throw Error("FLUX transformer (diffusers layout" +
              (files_.empty() ? std::string() : ", " + files_.front()->path()) + "): no tensor '" +
              prefix_ + key + "' (needed for '" + bfl_name + "')");
}

torch::Tensor FluxDiffusersWeights::get(const std::string& bfl_name) const {
  const auto parts = flux_diffusers_parts(bfl_name);
  std::vector<torch::Tensor> pieces;
  for (const auto& key : parts.keys) {
    const io::SafetensorsFile* file = nullptr;
    const auto& entry = at(key, bfl_name, &file);
    pieces.push_back(io::load_tensor(*file, entry).to(torch::kFloat32));
  }
  auto value = pieces.size() == 1 ? pieces.front() : torch::cat(pieces, 0);
  if (!parts.swap_halves) return value;
  if (value.size(0) % 2 != 0)
    throw Error("FLUX transformer (diffusers layout): '" + prefix_ + parts.keys.front() +
                "' has an odd number of rows " + std::to_string(value.size(0)) +
                " (expected [scale; shift])");
  const auto halves = value.chunk(2, 0);
  return torch::cat({halves[1], halves[0]}, 0);
}

bool FluxDiffusersWeights::has(const std::string& bfl_name) const {
  return shape(bfl_name).has_value();
}

std::optional<std::vector<int64_t>> FluxDiffusersWeights::shape(const std::string& bfl_name) const {
  FluxDiffusersParts parts;
  try {
    parts = flux_diffusers_parts(bfl_name);
  } catch (const Error&) {
    return std::nullopt;
  }
  std::optional<std::vector<int64_t>> shape;
  for (const auto& key : parts.keys) {
    const io::SafetensorsFile* file = nullptr;
    const auto* entry = find(key, &file);
    if (!entry || entry->shape.empty()) return std::nullopt;
    if (!shape) {
      shape = entry->shape;
    } else {
      (*shape)[0] += entry->shape[0];
    }
  }
  return shape;
}

void FluxDiffusersWeights::release_pages() const {
  for (const auto& file : files_) file->release_pages();
}

std::optional<std::string> flux_bfl_prefix(const io::SafetensorsFile& file) {
  return prefix_of(file, "img_in.weight", "txt_in.weight");
}

std::optional<std::string> flux_diffusers_prefix(const io::SafetensorsFile& file) {
  return prefix_of(file, "x_embedder.weight", "context_embedder.weight");
}

FluxWeightFiles open_flux_weights(std::shared_ptr<const io::SafetensorsFile> file) {
  if (auto prefix = flux_bfl_prefix(*file)) {
    FluxWeightFiles out;
    out.layout = prefix->empty() ? "bfl" : "bfl, prefix '" + *prefix + "'";
    out.shape_of = bfl_shapes(file, *prefix);
    out.source = std::make_shared<FileWeights>(file, *prefix);
    return out;
  }
  if (auto prefix = flux_diffusers_prefix(*file)) {
    auto source = std::make_shared<FluxDiffusersWeights>(
        std::vector<std::shared_ptr<const io::SafetensorsFile>>{file}, *prefix);
    FluxWeightFiles out;
    out.layout = "diffusers";
    out.shape_of = [source](const std::string& name) { return source->shape(name); };
    out.source = std::move(source);
    return out;
  }
  throw Error("'" + file->path() +
              "' holds no FLUX transformer (neither img_in.weight with txt_in.weight nor "
              "x_embedder.weight with context_embedder.weight)");
}

FluxWeightFiles open_flux_diffusers_folder(const std::string& transformer_dir) {
  auto files = component_weight_files(transformer_dir);
  if (files.size() == 1) return open_flux_weights(files.front());
  auto source = std::make_shared<FluxDiffusersWeights>(std::move(files));
  FluxWeightFiles out;
  out.layout = "diffusers (sharded)";
  out.shape_of = [source](const std::string& name) { return source->shape(name); };
  out.source = std::move(source);
  return out;
}

}  // namespace dd::models
