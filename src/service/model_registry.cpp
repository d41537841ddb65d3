#include "service/model_registry.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "service/model_sidecar.h"
#include "util/error.h"

namespace dd::service {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

bool iequals(const std::string& a, const std::string& b) { return lower(a) == lower(b); }

// The family a model will have once loaded, when its files say so without loading weights.
std::string guess_family(const ModelInfo& info) {
  try {
    std::string arch = info.config_json;
    const fs::path path(info.path);
    if (arch.empty() && !fs::is_directory(path)) {
      const fs::path beside = path.parent_path() / (path.stem().string() + ".arch.json");
      if (fs::exists(beside)) arch = beside.string();
    }
    if (!arch.empty()) return read_json_file(arch).value("family", "");
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

int64_t tensor_bytes(const torch::nn::Module& module) {
  int64_t total = 0;
  for (const auto& p : module.parameters()) total += p.numel() * p.element_size();
  for (const auto& b : module.buffers()) total += b.numel() * b.element_size();
  return total;
}

int64_t model_bytes(const pipeline::DiffusionModel& model) {
  int64_t total = tensor_bytes(*model.unet) + tensor_bytes(*model.vae);
  for (const auto& encoder : model.text_encoders) total += tensor_bytes(*encoder);
  return total;
}

std::string loaded_family(const pipeline::DiffusionModel& model) {
  const std::string family = models::family_name(model.config().family);
  return model.is_inpainting_model() ? family + "-inpaint" : family;
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

// Every model in the directory, keyed by id; a diffusers folder wins over a single file of the
// same name (the fixtures ship both forms of one model side by side).
std::map<std::string, ModelInfo> scan_models(const fs::path& dir) {
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
  return found;
}

// An alias may not repeat another model's id or alias (ids first, then aliases in id order).
void check_alias_conflicts(std::map<std::string, ModelInfo>& found) {
  std::map<std::string, std::string> owner;
  for (const auto& [id, info] : found) owner[lower(id)] = id;
  for (auto& [id, info] : found) {
    for (const auto& alias : info.aliases) {
      const auto [it, inserted] = owner.emplace(lower(alias), id);
      if (!inserted && it->second != id && info.error.empty())
        info.error = id + ".json: alias '" + alias + "' already names model '" + it->second + "'";
    }
  }
}

}  // namespace

ModelRegistry::ModelRegistry(std::string models_dir, size_t memory_budget_bytes,
                             torch::ScalarType dtype, std::string default_model,
                             torch::Device device)
    : models_dir_(std::move(models_dir)),
      budget_(memory_budget_bytes),
      dtype_(dtype),
      device_(device),
      requested_default_(std::move(default_model)) {
  if (!fs::is_directory(models_dir_))
    throw Error("models directory '" + models_dir_ + "' does not exist or is not a directory");
  rescan();
  if (requested_default_.empty()) return;
  const auto info = find(requested_default_);
  if (!info) throw Error("default model '" + requested_default_ + "' is not in " + models_dir_);
  if (!info->available())
    throw Error("default model '" + requested_default_ + "' is unavailable: " + info->error);
}

void ModelRegistry::rescan() {
  auto found = scan_models(models_dir_);
  check_alias_conflicts(found);
  std::lock_guard lock(mutex_);
  std::map<std::string, Entry> entries;
  for (auto& [id, info] : found) {
    Entry entry;
    entry.info = std::move(info);
    entry.info.family = guess_family(entry.info);
    const auto old = entries_.find(id);
    if (old != entries_.end() && old->second.model && old->second.info.path == entry.info.path &&
        entry.info.available()) {
      entry.model = old->second.model;
      entry.last_used = old->second.last_used;
      entry.info.loaded = true;
      entry.info.loaded_bytes = old->second.info.loaded_bytes;
      entry.info.family = old->second.info.family;
    }
    entries[id] = std::move(entry);
  }
  entries_ = std::move(entries);

  default_id_.clear();
  if (const Entry* wanted = find_entry(requested_default_);
      wanted && !requested_default_.empty() && wanted->info.available()) {
    default_id_ = wanted->info.id;
    return;
  }
  for (const bool allow_fast : {false, true})
    for (const auto& [id, entry] : entries_)
      if (default_id_.empty() && entry.info.available() && (allow_fast || !entry.info.fast))
        default_id_ = id;
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

std::optional<ModelInfo> ModelRegistry::find(const std::string& id_or_alias) const {
  std::lock_guard lock(mutex_);
  const Entry* entry = find_entry(id_or_alias);
  if (!entry) return std::nullopt;
  return entry->info;
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
    source = {entry->info.path, entry->info.config_json, entry->info.tokenizer_dir, dtype_,
              device_};
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
    throw Error("model '" + id + "' failed to load: " + failure);
  }
  entry.model = model;
  entry.info.loaded = true;
  entry.info.loaded_bytes = model_bytes(*model);
  entry.info.family = loaded_family(*model);
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
