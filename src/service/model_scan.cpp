#include "service/model_scan.h"

#include <algorithm>
#include <cctype>

#include "io/safetensors.h"
#include "models/presets.h"
#include "service/model_sidecar.h"
#include "util/error.h"

namespace dd::service {

namespace fs = std::filesystem;

namespace {

// A single-file checkpoint's family from its header: the preset its keys and shapes fit.
std::string checkpoint_family(const io::SafetensorsFile& checkpoint) {
  try {
    const auto config = models::preset(models::detect_preset(checkpoint));
    const std::string family = models::family_name(config.family);
    return config.unet.in_channels == 9 ? family + "-inpaint" : family;
  } catch (const Error&) {
    return "";  // another size or layout: the load will say what it makes of it
  }
}

// The family a model will have once loaded, when its files say so without loading weights.
std::string guess_family(const ModelInfo& info, const io::SafetensorsFile* checkpoint) {
  try {
    std::string arch = info.config_json;
    const fs::path path(info.path);
    if (arch.empty() && !fs::is_directory(path)) {
      const fs::path beside = path.parent_path() / (path.stem().string() + ".arch.json");
      if (fs::exists(beside)) arch = beside.string();
    }
    if (!arch.empty()) return read_json_file(arch).value("family", "");
    if (checkpoint) return checkpoint_family(*checkpoint);
    if (!fs::is_directory(path) || !fs::exists(path / "model_index.json")) return "";
    const std::string pipeline_class =
        read_json_file(path / "model_index.json").value("_class_name", "");
    if (pipeline_class.find("XL") != std::string::npos) return "sdxl";
    if (pipeline_class.find("Inpaint") != std::string::npos) return "sd1-inpaint";
    // SD 2.x: OpenCLIP text encoder with linear projections in the UNet's transformers.
    const bool linear =
        read_json_file(path / "unet" / "config.json").value("use_linear_projection", false);
    return linear ? "sd2" : "sd1";
  } catch (const std::exception&) {
    return "";  // the load will say what is wrong
  }
}

// Checks a single-file checkpoint's header and guesses the family; a diffusers folder is
// checked when it loads.
void inspect_files(ModelInfo& info) {
  std::unique_ptr<io::SafetensorsFile> checkpoint;
  if (!fs::is_directory(info.path)) {
    try {
      checkpoint = std::make_unique<io::SafetensorsFile>(info.path);
    } catch (const std::exception& e) {
      if (info.error.empty()) info.error = std::string("unreadable checkpoint: ") + e.what();
      return;
    }
  }
  info.family = guess_family(info, checkpoint.get());
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
  std::error_code ec;
  for (const auto& item : fs::directory_iterator(dir, ec)) {
    const fs::path path = item.path();
    ModelInfo info;
    if (fs::is_directory(path) && fs::exists(path / "unet" / "config.json")) {
      info.id = path.filename().string();
    } else if (fs::is_regular_file(path) && path.extension() == ".safetensors") {
      info.id = path.stem().string();
      if (found.count(info.id)) continue;
    } else {
      continue;
    }
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
  check_alias_conflicts(found);
  for (auto& [id, info] : found) inspect_files(info);
  return found;
}

}  // namespace dd::service
