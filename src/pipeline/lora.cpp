#include "pipeline/lora.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>

#include "io/tensor_file.h"
#include "models/checkpoint_keys.h"
#include "util/error.h"

namespace dd::pipeline {

namespace {

std::string kohya_name(const std::string& prefix, const std::string& module_path) {
  std::string name = prefix + module_path;
  std::replace(name.begin(), name.end(), '.', '_');
  return name;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() > suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Every weight a LoRA may target, by its kohya module name. UNet modules answer to both their
// diffusers path (kohya's usual names) and their single-file LDM path (some older LoRAs).
std::map<std::string, torch::Tensor> lora_targets(DiffusionModel& model) {
  std::map<std::string, torch::Tensor> targets;
  const std::string weight = ".weight";
  auto module_path = [&](const std::string& key) {
    return key.substr(0, key.size() - weight.size());
  };
  auto add = [&](torch::nn::Module& module, const std::string& prefix) {
    for (auto& item : module.named_parameters())
      if (ends_with(item.key(), weight))
        targets[kohya_name(prefix, module_path(item.key()))] = item.value();
  };
  add(*model.unet, "lora_unet_");
  for (auto& item : model.unet->named_parameters()) {
    if (!ends_with(item.key(), weight)) continue;
    const auto ldm = models::unet_single_file_key(item.key(), model.config().unet);
    if (ends_with(ldm, weight))
      targets.emplace(kohya_name("lora_unet_", module_path(ldm)), item.value());
  }
  if (model.text_encoders.size() == 1) {
    add(*model.text_encoders[0], "lora_te_");
  } else {
    for (size_t i = 0; i < model.text_encoders.size(); ++i)
      add(*model.text_encoders[i], "lora_te" + std::to_string(i + 1) + "_");
  }
  return targets;
}

torch::Tensor lora_delta(const LoraModule& module, const torch::Tensor& target,
                         const std::string& path) {
  const int64_t rank = module.down.size(0);
  auto product =
      torch::matmul(module.up.reshape({module.up.size(0), rank}), module.down.reshape({rank, -1}));
  if (product.numel() != target.numel() || product.size(0) != target.size(0))
    throw Error(path + ": LoRA module '" + module.name + "' has shape " +
                c10::str(product.sizes()) + " but the model weight is " + c10::str(target.sizes()) +
                " (LoRA for another model?)");
  return product.reshape(target.sizes()) * (module.alpha / static_cast<double>(rank));
}

// A LoRA as applied: its file (size and modification time too, so a file replaced under the same
// name is another LoRA) and its exact weight. Keys the prompt cache.
std::string lora_identity(const LoraSpec& spec) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(spec.path, ec);
  const auto modified = std::filesystem::last_write_time(spec.path, ec).time_since_epoch().count();
  char weight[32];
  std::snprintf(weight, sizeof weight, "%.17g", spec.weight);
  return spec.path + ':' + std::to_string(size) + ':' + std::to_string(modified) + ':' + weight;
}

}  // namespace

LoraSpec parse_lora_spec(const std::string& text) {
  LoraSpec spec;
  const auto colon = text.rfind(':');
  spec.path = text;
  if (colon != std::string::npos && colon + 1 < text.size()) {
    try {
      size_t used = 0;
      const double weight = std::stod(text.substr(colon + 1), &used);
      if (used == text.size() - colon - 1) {
        spec.path = text.substr(0, colon);
        spec.weight = weight;
      }
    } catch (const std::exception&) {
      // no number after the colon: it is part of the path
    }
  }
  if (spec.path.empty()) throw Error("--lora: empty file name in '" + text + "'");
  if (!std::isfinite(spec.weight) || std::abs(spec.weight) > 10)
    throw Error("--lora: weight of '" + spec.path + "' must be between -10 and 10");
  return spec;
}

std::vector<LoraModule> read_lora_file(const std::string& path) {
  io::SafetensorsFile file(path);
  std::map<std::string, LoraModule> modules;
  const std::vector<std::pair<std::string, int>> parts = {
      {".lora_down.weight", 0}, {".lora_up.weight", 1}, {".alpha", 2}};
  for (const auto& entry : file.entries()) {
    bool known = false;
    for (const auto& [suffix, kind] : parts) {
      const auto& key = entry.name;
      if (!ends_with(key, suffix)) continue;
      known = true;
      LoraModule& module = modules[key.substr(0, key.size() - suffix.size())];
      module.name = key.substr(0, key.size() - suffix.size());
      auto value = io::load_tensor(file, entry).to(torch::kFloat32);
      if (!torch::isfinite(value).all().item<bool>())
        throw Error(path + ": tensor '" + key + "' has non-finite values");
      if (kind == 0) module.down = value;
      if (kind == 1) module.up = value;
      if (kind == 2) {
        if (value.numel() != 1) throw Error(path + ": '" + key + "' must hold one number");
        module.alpha = value.item<double>();
      }
    }
    if (!known)
      throw Error(path + ": '" + entry.name +
                  "' is not a kohya LoRA key (lora_down/lora_up/alpha)");
  }
  std::vector<LoraModule> out;
  for (auto& [name, module] : modules) {
    if (!module.down.defined() || !module.up.defined())
      throw Error(path + ": LoRA module '" + name + "' needs both lora_down and lora_up");
    if (module.down.dim() < 2 || module.up.dim() < 2 || module.up.size(1) != module.down.size(0))
      throw Error(path + ": LoRA module '" + name + "' has ranks that disagree between lora_down " +
                  c10::str(module.down.sizes()) + " and lora_up " + c10::str(module.up.sizes()));
    if (module.alpha == 0)
      module.alpha = static_cast<double>(module.down.size(0));  // no alpha: scale 1
    out.push_back(std::move(module));
  }
  if (out.empty()) throw Error(path + ": no LoRA modules in the file");
  return out;
}

ScopedLoras::ScopedLoras(DiffusionModel& model, const std::vector<LoraSpec>& loras) {
  if (loras.empty()) return;
  auto targets = lora_targets(model);
  // Read and check everything first, so a bad LoRA leaves the model untouched.
  struct Update {
    torch::Tensor param, delta;
    bool text_encoder;
  };
  std::vector<Update> updates;
  std::string text_encoder_loras;  // the LoRAs that change text encoder weights
  for (const auto& spec : loras) {
    bool touches_text_encoders = false;
    for (const auto& module : read_lora_file(spec.path)) {
      const bool text_encoder = module.name.rfind("lora_te", 0) == 0;
      touches_text_encoders = touches_text_encoders || text_encoder;
      auto it = targets.find(module.name);
      if (it == targets.end())
        throw Error(spec.path + ": LoRA module '" + module.name +
                    "' matches no weight of this model");
      updates.push_back(
          {it->second, lora_delta(module, it->second, spec.path) * spec.weight, text_encoder});
      saved_.emplace(module.name, std::make_pair(it->second, torch::Tensor()));
    }
    if (touches_text_encoders) text_encoder_loras += lora_identity(spec) + ';';
  }
  model_ = &model;
  previous_text_encoder_loras_ = model.text_encoder_loras;
  model.text_encoder_loras += text_encoder_loras;
  torch::NoGradGuard no_grad;
  for (auto& [name, entry] : saved_) entry.second = entry.first.clone();
  for (auto& update : updates) {
    // Text encoders compute in float32 even where their weights are kept in 16 bits: a merged
    // weight is float32 for the request (not rounded to 16 bits), and the original comes back.
    if (update.text_encoder && update.param.scalar_type() != torch::kFloat32)
      update.param.set_data(update.param.to(torch::kFloat32) +
                            update.delta.to(update.param.device()));
    else
      update.param.add_(update.delta.to(update.param.device(), update.param.scalar_type()));
  }
}

ScopedLoras::~ScopedLoras() {
  torch::NoGradGuard no_grad;
  for (auto& [name, entry] : saved_) {
    if (entry.first.scalar_type() == entry.second.scalar_type())
      entry.first.copy_(entry.second);
    else
      entry.first.set_data(entry.second);  // a 16-bit text encoder weight merged in float32
  }
  if (model_) model_->text_encoder_loras = previous_text_encoder_loras_;
}

}  // namespace dd::pipeline
