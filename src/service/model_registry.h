#pragma once
// The models a server can run: every single-file `*.safetensors` or `*.gguf` checkpoint and every
// diffusers folder (Stable Diffusion's with unet/config.json, FLUX.1's) in the models directory,
// named by file or folder name without extension. An optional sidecar `NAME.json` beside a model
// gives aliases, per-model defaults, an architecture file, a tokenizer folder, a description, the
// `fast` flag and a FLUX transformer-only file's parts (service/model_sidecar.h).
//
// A bad sidecar or an unreadable checkpoint makes only that model unavailable (listed with the
// reason). Models load lazily on first use, stay cached, and are unloaded least-recently-used
// when the parameter bytes of the loaded models exceed the memory budget; a model still held by
// a caller is never unloaded.
// LoRA files are MODELS_DIR/loras/*.safetensors, named by file stem. Thread-safe.
#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/generation_params.h"
#include "pipeline/model.h"
#include "service/model_sidecar.h"

namespace dd::service {

struct ModelInfo {
  std::string id;
  std::vector<std::string> aliases;
  std::string path;                     // the .safetensors file or the diffusers folder
  pipeline::GenerationParams defaults;  // the sidecar's (service/model_sidecar.h)
  // sd1, sd1-inpaint, sd2, sdxl, flux, flux-inpaint (FLUX.1 Fill); "" until known (loaded).
  // An -inpaint family needs an image and a mask: it does not serve text-to-image.
  std::string family;
  bool fast = false;
  bool loaded = false;
  std::string error;  // why the model is unavailable ("" = available)
  std::string description;
  std::string config_json;      // architecture JSON from the sidecar ("" = auto)
  std::string tokenizer_dir;    // from the sidecar ("" = auto)
  FluxParts flux_parts;         // from the sidecar (a FLUX transformer-only file's parts)
  std::string preview_decoder;  // from the sidecar: TAESD-style decoder file ("" = none)
  int64_t loaded_bytes = 0;     // parameter bytes while loaded

  bool available() const { return error.empty(); }
  // Available and not an inpainting-only model (as far as its files or its load told).
  bool serves_text_to_image() const;
};

// What the loader is given for a model: its path, the sidecar's architecture file, tokenizer
// folder and FLUX parts, in `dtype` on `device`.
pipeline::ModelSource model_source(const ModelInfo& info, torch::ScalarType dtype,
                                   const torch::Device& device = torch::kCPU);

class ModelRegistry {
 public:
  // memory_budget_bytes 0 = no limit. default_model (id or alias) must name a listed, available
  // model; "" = the first model by id that serves text-to-image and is not a fast one, else the
  // first fast one that does. An automatic default that fails to load gives way to the next
  // such model. Models load in `dtype` on `device`.
  ModelRegistry(std::string models_dir, size_t memory_budget_bytes, torch::ScalarType dtype,
                std::string default_model = "", torch::Device device = torch::kCPU);

  // Re-reads the models directory (loaded models stay loaded when still listed; a failed load
  // is remembered until the model's file or folder changes).
  void rescan();

  // Every model, sorted by id, unavailable ones included (with their error).
  std::vector<ModelInfo> list() const;
  // By id, or by alias case-insensitively; nullopt when nothing has that name. A name not
  // found rescans the directory (at most once per kMissRescanInterval, so a flood of unknown
  // names cannot keep the server scanning) and looks again: a model added since is found.
  std::optional<ModelInfo> find(const std::string& id_or_alias);
  static constexpr std::chrono::milliseconds kMissRescanInterval{2000};
  // "" when no model can serve text-to-image.
  std::string default_model_id() const;
  // The fast model for the image-object API's default: the first available model marked fast,
  // else the default model.
  std::string fast_model_id() const;

  // The loaded model (by id or alias; "" = the default), loading it on first use. A dd::Error
  // for an unknown or unavailable model or a failed load (the model is then marked
  // unavailable with the reason).
  std::shared_ptr<pipeline::DiffusionModel> acquire(const std::string& id_or_alias);
  // Drops every cached model not in use (e.g. before shutdown or to free memory).
  void unload_unused();
  int64_t loaded_bytes() const;
  size_t memory_budget() const { return budget_; }  // 0: no limit
  int loaded_count() const;

  std::vector<std::string> lora_names() const;  // sorted file stems
  std::optional<std::string> lora_path(const std::string& name) const;

  const std::string& models_dir() const { return models_dir_; }
  torch::ScalarType dtype() const { return dtype_; }
  const torch::Device& device() const { return device_; }

 private:
  struct Entry {
    ModelInfo info;
    std::shared_ptr<pipeline::DiffusionModel> model;
    uint64_t last_used = 0;
    std::filesystem::file_time_type failed_stamp;  // the files' time when the load failed
  };

  Entry* find_entry(const std::string& id_or_alias);
  const Entry* find_entry(const std::string& id_or_alias) const;
  std::optional<ModelInfo> lookup(const std::string& id_or_alias) const;
  void choose_default();  // with mutex_ held
  void evict_over_budget(const std::string& keep_id);

  std::string models_dir_;
  size_t budget_;
  torch::ScalarType dtype_;
  torch::Device device_;
  std::string requested_default_;
  std::string default_id_;

  mutable std::mutex mutex_;  // guards entries_, clock_, default_id_, last_miss_rescan_
  std::mutex load_mutex_;     // one load at a time (two at once would double the peak memory)
  std::map<std::string, Entry> entries_;
  uint64_t clock_ = 0;
  std::chrono::steady_clock::time_point last_miss_rescan_{};
};

}  // namespace dd::service
