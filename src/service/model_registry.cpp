#include "service/model_registry.h"

#include <algorithm>
#include <filesystem>

#include "service/model_scan.h"
#include "util/error.h"

namespace dd::service {

namespace fs = std::filesystem;
namespace {

bool iequals(const std::string& a, const std::string& b) { return lowercase(a) == lowercase(b); }

// When a model's files last changed (a folder's own time for a diffusers folder), its FLUX
// parts' included: a part put in place makes a failed load worth trying again.
fs::file_time_type files_stamp(const ModelInfo& info) {
  std::vector<std::string> paths = info.flux_parts.part_paths();
  paths.push_back(info.path);
  if (!info.flux_parts.components.empty()) paths.push_back(info.flux_parts.components);
  std::optional<fs::file_time_type> latest;  // file_time_type{} is no "earliest" (libstdc++)
  for (const auto& path : paths) {
    std::error_code ec;
    const auto stamp = fs::last_write_time(path, ec);
    if (!ec && (!latest || stamp > *latest)) latest = stamp;
  }
  return latest.value_or(fs::file_time_type{});
}

// The same files and the same sidecar settings for loading them.
bool same_source(const ModelInfo& a, const ModelInfo& b) {
  return a.path == b.path && a.config_json == b.config_json && a.tokenizer_dir == b.tokenizer_dir &&
         a.flux_parts == b.flux_parts;
}

int64_t tensor_bytes(const torch::nn::Module& module) {
  int64_t total = 0;
  for (const auto& p : module.parameters()) total += p.numel() * p.element_size();
  for (const auto& b : module.buffers()) total += b.numel() * b.element_size();
  return total;
}

// Every part the model keeps (FLUX has a transformer instead of the UNet, and T5 unless it is
// dropped after each prompt).
int64_t model_bytes(pipeline::DiffusionModel& model, bool drops_t5) {
  int64_t total = 0;
  if (!model.unet.is_empty()) total += tensor_bytes(*model.unet);
  if (!model.flux.is_empty()) total += tensor_bytes(*model.flux);
  if (!model.vae.is_empty()) total += tensor_bytes(*model.vae);
  for (const auto& encoder : model.text_encoders) total += tensor_bytes(*encoder);
  if (model.t5_loaded() && !drops_t5) total += tensor_bytes(*model.t5_encoder());
  return total;
}

std::string loaded_family(const pipeline::DiffusionModel& model) {
  const std::string family = models::family_name(model.config().family);
  return model.is_inpainting_model() ? family + "-inpaint" : family;
}

}  // namespace

pipeline::ModelSource model_source(const ModelInfo& info, torch::ScalarType dtype,
                                   const torch::Device& device) {
  pipeline::ModelSource source;
  source.path = info.path;
  source.config_json = info.config_json;
  source.tokenizer_dir = info.tokenizer_dir;
  source.dtype = dtype;
  source.device = device;
  const FluxParts& parts = info.flux_parts;
  source.vae_path = parts.vae;
  source.clip_path = parts.clip_l;
  source.t5_path = parts.t5xxl;
  source.t5_tokenizer_path = parts.t5_tokenizer;
  source.clip_tokenizer_dir = parts.clip_tokenizer;
  source.components_dir = parts.components;
  source.drop_t5_after_encoding = parts.drop_t5;
  return source;
}

ModelRegistry::ModelRegistry(std::string models_dir, size_t memory_budget_bytes,
                             torch::ScalarType dtype, std::string default_model,
                             torch::Device device)
    : models_dir_(std::move(models_dir)),
      budget_(memory_budget_bytes),
      dtype_(dtype),
      device_(device),
      requested_default_(std::move(default_model)),
      last_miss_rescan_(std::chrono::steady_clock::now() - kMissRescanInterval) {
  if (!fs::is_directory(models_dir_))
    throw Error("models directory '" + models_dir_ + "' does not exist or is not a directory");
  rescan();
  if (requested_default_.empty()) return;
  const auto info = lookup(requested_default_);
  if (!info) throw Error("default model '" + requested_default_ + "' is not in " + models_dir_);
  if (!info->available())
    throw Error("default model '" + requested_default_ + "' is unavailable: " + info->error);
}

void ModelRegistry::rescan() {
  auto found = scan_models_dir(models_dir_);
  std::lock_guard lock(mutex_);
  std::map<std::string, Entry> entries;
  for (auto& [id, info] : found) {
    Entry entry;
    entry.info = std::move(info);
    const auto old = entries_.find(id);
    const bool same = old != entries_.end() && same_source(old->second.info, entry.info);
    if (same && old->second.model && entry.info.available()) {
      entry.model = old->second.model;
      entry.last_used = old->second.last_used;
      entry.info.loaded = true;
      entry.info.loaded_bytes = old->second.info.loaded_bytes;
      entry.info.family = old->second.info.family;
    } else if (same && !old->second.info.available() && entry.info.available() &&
               old->second.failed_stamp != fs::file_time_type{} &&
               old->second.failed_stamp == files_stamp(entry.info)) {
      entry.info.error = old->second.info.error;  // failed to load, and nothing changed since
      entry.failed_stamp = old->second.failed_stamp;
    }
    entries[id] = std::move(entry);
  }
  entries_ = std::move(entries);
  choose_default();
}

void ModelRegistry::choose_default() {
  default_id_.clear();
  if (const Entry* wanted = find_entry(requested_default_); wanted && wanted->info.available()) {
    default_id_ = wanted->info.id;
    return;
  }
  for (const bool allow_fast : {false, true})
    for (const auto& [id, entry] : entries_)
      if (default_id_.empty() && entry.info.serves_text_to_image() &&
          (allow_fast || !entry.info.fast))
        default_id_ = id;
}

bool ModelInfo::serves_text_to_image() const {
  const std::string inpaint = "-inpaint";
  const bool inpainting_only =
      family.size() >= inpaint.size() &&
      family.compare(family.size() - inpaint.size(), inpaint.size(), inpaint) == 0;
  return available() && !inpainting_only;
}

std::vector<ModelInfo> ModelRegistry::list() const {
  std::lock_guard lock(mutex_);
  std::vector<ModelInfo> infos;
  for (const auto& [id, entry] : entries_) infos.push_back(entry.info);
  return infos;
}

ModelRegistry::Entry* ModelRegistry::find_entry(const std::string& name) {
  return const_cast<Entry*>(static_cast<const ModelRegistry*>(this)->find_entry(name));
}

const ModelRegistry::Entry* ModelRegistry::find_entry(const std::string& name) const {
  if (name.empty()) return nullptr;
  if (const auto exact = entries_.find(name); exact != entries_.end()) return &exact->second;
  for (const auto& [id, entry] : entries_)
    if (iequals(id, name)) return &entry;
  for (const auto& [id, entry] : entries_)
    for (const auto& alias : entry.info.aliases)
      if (iequals(alias, name)) return &entry;
  return nullptr;
}

std::optional<ModelInfo> ModelRegistry::lookup(const std::string& id_or_alias) const {
  std::lock_guard lock(mutex_);
  const Entry* entry = find_entry(id_or_alias);
  if (!entry) return std::nullopt;
  return entry->info;
}

std::optional<ModelInfo> ModelRegistry::find(const std::string& id_or_alias) {
  if (auto info = lookup(id_or_alias)) return info;
  if (id_or_alias.empty()) return std::nullopt;
  {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (now - last_miss_rescan_ < kMissRescanInterval) return std::nullopt;
    last_miss_rescan_ = now;
  }
  rescan();
  return lookup(id_or_alias);
}

std::string ModelRegistry::default_model_id() const {
  std::lock_guard lock(mutex_);
  return default_id_;
}

std::string ModelRegistry::fast_model_id() const {
  std::lock_guard lock(mutex_);
  for (const auto& [id, entry] : entries_)
    if (entry.info.fast && entry.info.available()) return id;
  return default_id_;
}

std::shared_ptr<pipeline::DiffusionModel> ModelRegistry::acquire(const std::string& id_or_alias) {
  pipeline::ModelSource source;
  std::string id;
  const auto cached = [&]() -> std::shared_ptr<pipeline::DiffusionModel> {
    std::lock_guard lock(mutex_);
    const std::string name = id_or_alias.empty() ? default_id_ : id_or_alias;
    Entry* entry = find_entry(name);
    if (!entry)
      throw Error(name.empty() ? "no model is available in " + models_dir_
                               : "unknown model '" + name + "'");
    if (!entry->info.available())
      throw Error("model '" + entry->info.id + "' is unavailable: " + entry->info.error);
    entry->last_used = ++clock_;
    id = entry->info.id;
    source = model_source(entry->info, dtype_, device_);
    if (entry->model) evict_over_budget(id);
    return entry->model;
  };
  if (auto model = cached()) return model;

  std::lock_guard load_lock(load_mutex_);
  if (auto model = cached()) return model;  // loaded by another caller meanwhile
  std::shared_ptr<pipeline::DiffusionModel> model;
  std::string failure;
  try {
    model = pipeline::DiffusionModel::load(source);
  } catch (const c10::Error& e) {
    failure = e.what_without_backtrace();
  } catch (const std::exception& e) {
    failure = e.what();
  }
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(id);
  if (it == entries_.end()) throw Error("model '" + id + "' was removed while loading");
  Entry& entry = it->second;
  if (!model) {
    entry.info.error = "failed to load: " + failure;
    entry.failed_stamp = files_stamp(entry.info);
    choose_default();  // an automatic default gives way to the next model that can serve
    throw Error("model '" + id + "' failed to load: " + failure);
  }
  entry.model = model;
  entry.info.loaded = true;
  entry.info.loaded_bytes = model_bytes(*model, entry.info.flux_parts.drop_t5);
  entry.info.family = loaded_family(*model);
  choose_default();  // the load may have shown an inpainting-only model
  evict_over_budget(id);
  return model;
}

// Called with mutex_ held. Only the registry's own reference (use_count 1) may be dropped.
void ModelRegistry::evict_over_budget(const std::string& keep_id) {
  if (budget_ == 0) return;
  int64_t total = 0;
  for (const auto& [id, entry] : entries_) total += entry.model ? entry.info.loaded_bytes : 0;
  while (total > static_cast<int64_t>(budget_)) {
    Entry* victim = nullptr;
    for (auto& [id, entry] : entries_)
      if (entry.model && id != keep_id && entry.model.use_count() == 1 &&
          (!victim || entry.last_used < victim->last_used))
        victim = &entry;
    if (!victim) return;  // everything loaded is in use: over budget until released
    total -= victim->info.loaded_bytes;
    victim->model.reset();
    victim->info.loaded = false;
    victim->info.loaded_bytes = 0;
  }
}

void ModelRegistry::unload_unused() {
  std::lock_guard lock(mutex_);
  for (auto& [id, entry] : entries_) {
    if (!entry.model || entry.model.use_count() != 1) continue;
    entry.model.reset();
    entry.info.loaded = false;
    entry.info.loaded_bytes = 0;
  }
}

int64_t ModelRegistry::loaded_bytes() const {
  std::lock_guard lock(mutex_);
  int64_t total = 0;
  for (const auto& [id, entry] : entries_) total += entry.model ? entry.info.loaded_bytes : 0;
  return total;
}

int ModelRegistry::loaded_count() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(std::count_if(entries_.begin(), entries_.end(),
                                        [](const auto& e) { return !!e.second.model; }));
}

// LoRAs live in MODELS_DIR/loras (or lora, as in the fixtures); the first folder wins a name.
std::vector<std::string> ModelRegistry::lora_names() const {
  std::set<std::string> names;
  for (const char* folder : {"loras", "lora"}) {
    std::error_code ec;
    for (const auto& item : fs::directory_iterator(fs::path(models_dir_) / folder, ec))
      if (item.path().extension() == ".safetensors" && fs::is_regular_file(item.path()))
        names.insert(item.path().stem().string());
  }
  return {names.begin(), names.end()};
}

std::optional<std::string> ModelRegistry::lora_path(const std::string& name) const {
  const auto names = lora_names();
  auto match = std::find(names.begin(), names.end(), name);
  if (match == names.end())
    match = std::find_if(names.begin(), names.end(),
                         [&](const std::string& n) { return iequals(n, name); });
  if (match == names.end()) return std::nullopt;
  for (const char* folder : {"loras", "lora"}) {
    const fs::path path = fs::path(models_dir_) / folder / (*match + ".safetensors");
    if (fs::is_regular_file(path)) return path.string();
  }
  return std::nullopt;
}

}  // namespace dd::service
