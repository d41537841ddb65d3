#include "service/model_scan.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>

#include "service/model_family.h"
#include "service/model_sidecar.h"
#include "util/error.h"

namespace dd::service {

namespace fs = std::filesystem;

namespace {

// Checks a checkpoint file's header and guesses the family (service/model_family.h); a
// diffusers folder is checked when it loads.
void inspect_files(ModelInfo& info) {
  try {
    info.family = family_from_files(info.path, info.config_json);
  } catch (const std::exception& e) {
    if (info.error.empty()) info.error = std::string("unreadable checkpoint: ") + e.what();
  }
}

// What a directory entry is as a model: 0 a diffusers folder, 1 a .safetensors file, 2 a .gguf
// file (a lower rank wins a name), nullopt none.
std::optional<int> model_rank(const fs::path& path) {
  if (fs::is_directory(path))
    return fs::exists(path / "unet" / "config.json") || is_flux_folder(path) ? std::optional(0)
                                                                             : std::nullopt;
  if (!fs::is_regular_file(path)) return std::nullopt;
  if (path.extension() == ".safetensors") return 1;
  if (path.extension() == ".gguf") return 2;
  return std::nullopt;
}

// A sidecar's `fast` replaces the defaults the model's name implied; its `defaults` go on top.
void apply_sidecar(const Sidecar& sidecar, ModelInfo& info) {
  if (sidecar.fast) {
    info.fast = *sidecar.fast;
    info.defaults = info.fast ? fast_model_defaults() : pipeline::GenerationParams{};
  }
  info.defaults = sidecar.defaults.over(info.defaults);
  info.aliases = sidecar.aliases;
  info.description = sidecar.description;
  info.config_json = sidecar.config_json;
  info.tokenizer_dir = sidecar.tokenizer_dir;
  info.preview_decoder = sidecar.preview_decoder;
  info.flux_parts = sidecar.flux;
}

// A file that a sidecar names as a FLUX part (ae.safetensors, clip_l.safetensors, a T5 file
// beside the models) is no model of its own.
void drop_part_files(std::map<std::string, ModelInfo>& found) {
  std::set<fs::path> parts;
  for (const auto& [id, info] : found)
    for (const auto& path : info.flux_parts.part_paths())
      parts.insert(fs::absolute(path).lexically_normal());
  for (auto it = found.begin(); it != found.end();)
    it = parts.count(fs::absolute(it->second.path).lexically_normal()) ? found.erase(it)
                                                                       : std::next(it);
}

// An alias may not repeat another model's id or alias (ids first, then aliases in id order).
void check_alias_conflicts(std::map<std::string, ModelInfo>& found) {
  std::map<std::string, std::string> owner;
  for (const auto& [id, info] : found) owner[lowercase(id)] = id;
  for (auto& [id, info] : found) {
    for (const auto& alias : info.aliases) {
      const auto [it, inserted] = owner.emplace(lowercase(alias), id);
      if (!inserted && it->second != id && info.error.empty())
        info.error = id + ".json: alias '" + alias + "' already names model '" + it->second + "'";
    }
  }
}

}  // namespace

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::map<std::string, ModelInfo> scan_models_dir(const fs::path& dir) {
  std::map<std::string, ModelInfo> found;
  std::map<std::string, int> rank_of;
  std::error_code ec;
  for (const auto& item : fs::directory_iterator(dir, ec)) {
    const fs::path path = item.path();
    const auto rank = model_rank(path);
    if (!rank) continue;
    ModelInfo info;
    info.id = *rank == 0 ? path.filename().string() : path.stem().string();
    if (const auto other = rank_of.find(info.id); other != rank_of.end() && other->second <= *rank)
      continue;
    rank_of[info.id] = *rank;
    info.path = path.string();
    if (named_like_a_fast_model(info.id)) {
      info.fast = true;
      info.defaults = fast_model_defaults();
    }
    found[info.id] = info;
  }
  for (auto& [id, info] : found) {
    const fs::path file = dir / (id + ".json");
    if (!fs::exists(file)) continue;
    try {
      apply_sidecar(read_sidecar(dir, file), info);
    } catch (const Error& e) {
      info.error = e.what();
    } catch (const std::exception& e) {
      info.error = file.filename().string() + ": " + e.what();
    }
  }
  drop_part_files(found);
  check_alias_conflicts(found);
  for (auto& [id, info] : found) inspect_files(info);
  return found;
}

}  // namespace dd::service
