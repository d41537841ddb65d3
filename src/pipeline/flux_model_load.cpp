// FLUX.1 loading: a diffusers folder (black-forest-labs/FLUX.1-schnell's layout), or a
// transformer file (BFL's flux1-*.safetensors with or without ComfyUI's prefix, a ComfyUI
// all-in-one checkpoint, a GGUF release) with its VAE, CLIP and T5 files.
#include <filesystem>

#include "models/clip_keys.h"
#include "models/component_files.h"
#include "models/flux_keys.h"
#include "models/flux_model_config.h"
#include "models/gguf_weights.h"
#include "models/t5_keys.h"
#include "models/vae_keys.h"
#include "pipeline/model.h"
#include "pipeline/part_loading.h"
#include "util/error.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace dd::pipeline {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The text before `suffix` in the first key of `file` that ends with it; nullopt when none does.
std::optional<std::string> prefix_of(const io::SafetensorsFile& file, const std::string& suffix) {
  for (const auto& entry : file.entries())
    if (ends_with(entry.name, suffix))
      return entry.name.substr(0, entry.name.size() - suffix.size());
  return std::nullopt;
}

// The dtype a part's weights are kept in: as stored when that is one 8- or 16-bit type
// (exact, and the only way FLUX's 12 B parameters fit), else the compute dtype.
torch::ScalarType kept_dtype(torch::ScalarType stored, torch::ScalarType compute) {
  return stored == torch::kFloat32 ? compute : stored;
}

// Re-makes every floating parameter empty in `dtype` before loading: LibTorch built them in
// float32, but with torch::empty, whose pages were never touched, so this costs no memory.
void keep_parameters_as(torch::nn::Module& module, torch::ScalarType dtype) {
  torch::NoGradGuard no_grad;
  for (auto& param : module.parameters())
    if (param.is_floating_point() && param.scalar_type() != dtype)
      param.set_data(torch::empty(param.sizes(), param.options().dtype(dtype)));
}

void trim_heap() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

// A transformer or T5 encoder: weights kept as stored (expanded per layer when they run).
template <class Part, class Config>
Part load_kept(const Config& config, const models::WeightSource& source, torch::ScalarType keep,
               const torch::Device& device, const std::string& name) {
  Part part(config);
  keep_parameters_as(*part, keep);
  models::load_weights(*part, source, name);
  part->eval();
  source.release_pages();
  if (!device.is_cpu()) part->to(device);
  trim_heap();
  return part;
}

std::string existing(const std::vector<fs::path>& candidates) {
  for (const auto& path : candidates)
    if (!path.empty() && fs::exists(path)) return path.string();
  return "";
}

// Where a part not named in the source is: in a diffusers folder (components_dir, tokenizer_dir,
// or one named like the transformer file beside it).
std::vector<fs::path> component_dirs(const ModelSource& source) {
  std::vector<fs::path> dirs;
  if (!source.components_dir.empty()) dirs.emplace_back(source.components_dir);
  if (!source.tokenizer_dir.empty()) dirs.emplace_back(source.tokenizer_dir);
  const fs::path file(source.path);
  if (!fs::is_directory(file))
    dirs.push_back(file.parent_path() / file.stem());
  else
    dirs.push_back(file);
  return dirs;
}

std::string find_component(const ModelSource& source, const std::string& given,
                           const std::string& sub, const char* what, const char* sidecar_key) {
  if (!given.empty()) {
    if (!fs::exists(given)) throw Error(given + ": no such " + std::string(what) + " file");
    return given;
  }
  std::vector<fs::path> candidates;
  for (const auto& dir : component_dirs(source)) candidates.push_back(dir / sub);
  if (auto found = existing(candidates); !found.empty()) return found;
  std::string looked;
  for (const auto& c : candidates) looked += (looked.empty() ? "" : ", ") + c.string();
  throw Error(source.path + ": no " + what + " (looked in " + looked + "); name it as '" +
              sidecar_key + "' in the model's sidecar");
}

// A part's weights: the file itself, or a diffusers component folder's one weights file.
std::shared_ptr<const io::SafetensorsFile> weights_file(const std::string& path) {
  if (!fs::is_directory(path)) return std::make_shared<const io::SafetensorsFile>(path);
  auto files = models::component_weight_files(path);
  if (files.size() != 1)
    throw Error(path + ": sharded weights are read for the transformer and T5 only");
  return files.front();
}

}  // namespace

models::T5Encoder& DiffusionModel::t5_encoder() {
  if (!t5_) {
    if (!load_t5_) throw Error(path_ + ": the model has no T5 encoder");
    t5_ = load_t5_();
  }
  return t5_;
}

void DiffusionModel::release_t5_if_asked() {
  if (!drop_t5_ || !load_t5_) return;
  t5_ = models::T5Encoder{nullptr};
  trim_heap();
}

void DiffusionModel::load_flux_transformer_file(const ModelSource& source, bool configured) {
  if (ends_with(source.path, ".gguf")) {
    const auto gguf = std::make_shared<const io::GgufFile>(source.path);
    auto weights = models::GgufWeights(gguf);
    if (!configured)
      config_ = models::flux_model_config(
          models::flux_config_from_shapes(
              [&](const std::string& name) -> std::optional<std::vector<int64_t>> {
                const auto* t = gguf->find(name);
                if (!t) return std::nullopt;
                return t->shape();
              }),
          fs::path(source.path).stem().string());
    flux = load_kept<models::FluxTransformer>(config_.flux, weights, dtype_, device_,
                                              source.path + " (transformer)");
    return;
  }
  const auto file = std::make_shared<const io::SafetensorsFile>(source.path);
  const auto weights = models::open_flux_weights(file);
  if (!configured)
    config_ = models::flux_model_config(models::flux_config_from_shapes(weights.shape_of),
                                        fs::path(source.path).stem().string());
  const auto prefix = models::flux_bfl_prefix(*file).value_or("");
  flux = load_kept<models::FluxTransformer>(
      config_.flux, *weights.source, kept_dtype(models::stored_float_type(*file, prefix), dtype_),
      device_, source.path + " (transformer)");
}

bool DiffusionModel::is_flux_source(const std::string& path) {
  if (fs::is_directory(path)) return models::is_flux_diffusers_dir(path);
  if (ends_with(path, ".gguf")) return true;
  const io::SafetensorsFile file(path);
  return models::flux_bfl_prefix(file) || models::flux_diffusers_prefix(file);
}

void DiffusionModel::load_flux(const ModelSource& source) {
  const std::string& path = source.path;
  if (fs::is_directory(path)) {
    config_ = models::flux_model_config_from_diffusers_dir(path);
    const auto weights = models::open_flux_diffusers_folder(path + "/transformer");
    const auto first = models::component_weight_files(path + "/transformer").front();
    flux = load_kept<models::FluxTransformer>(
        config_.flux, *weights.source, kept_dtype(models::stored_float_type(*first, ""), dtype_),
        device_, path + "/transformer");
  } else {
    const std::string arch =
        source.config_json.empty() ? sidecar_arch_json(path) : source.config_json;
    if (!arch.empty()) config_ = models::model_config_from_arch_json(read_json_file(arch), arch);
    if (!arch.empty() && !config_.is_flux())
      throw Error(arch + ": describes a " + models::family_name(config_.family) + " model, but " +
                  path + " holds a FLUX.1 transformer");
    load_flux_transformer_file(source, !arch.empty());
  }
  load_flux_parts(source);
}

// VAE, CLIP, T5 and both tokenizers, from the source's files or a diffusers folder.
void DiffusionModel::load_flux_parts(const ModelSource& source) {
  const bool folder = fs::is_directory(source.path);
  const std::string all_in_one = folder ? "" : source.path;
  const auto file_of_checkpoint = [&]() -> std::shared_ptr<const io::SafetensorsFile> {
    if (all_in_one.empty() || ends_with(all_in_one, ".gguf")) return nullptr;
    return std::make_shared<const io::SafetensorsFile>(all_in_one);
  }();

  // VAE: a ComfyUI checkpoint's own, else ae.safetensors (LDM names) or a diffusers vae/.
  std::shared_ptr<const io::SafetensorsFile> vae_file;
  std::string vae_prefix;
  bool vae_ldm = true;
  if (file_of_checkpoint && source.vae_path.empty()) {
    if (auto p = prefix_of(*file_of_checkpoint, "decoder.conv_in.weight"); p && !p->empty()) {
      vae_file = file_of_checkpoint;
      vae_prefix = *p;
    }
  }
  if (!vae_file) {
    const std::string path = find_component(source, source.vae_path, "vae", "VAE", "vae");
    vae_file = weights_file(path);
    vae_prefix = prefix_of(*vae_file, "decoder.conv_in.weight").value_or("");
  }
  vae_ldm = vae_file->contains(vae_prefix + "decoder.mid.block_1.conv1.weight");
  if (vae_ldm)
    vae = load_part<models::AutoencoderKL>(
        config_.vae, *models::vae_ldm_weights(vae_file, config_.vae, vae_prefix), *vae_file, dtype_,
        device_, vae_file->path() + " (vae)");
  else
    vae = load_part<models::AutoencoderKL>(config_.vae, models::FileWeights(vae_file, vae_prefix),
                                           *vae_file, dtype_, device_, vae_file->path() + " (vae)");

  // CLIP-L: only its pooled output is used.
  std::shared_ptr<const io::SafetensorsFile> clip_file;
  const std::string clip_key = "text_model.embeddings.token_embedding.weight";
  if (file_of_checkpoint && source.clip_path.empty() && prefix_of(*file_of_checkpoint, clip_key))
    clip_file = file_of_checkpoint;
  if (!clip_file) {
    const std::string path =
        find_component(source, source.clip_path, "text_encoder", "CLIP text encoder", "clip_l");
    clip_file = weights_file(path);
  }
  const std::string clip_prefix = prefix_of(*clip_file, clip_key).value_or("");
  text_encoders = {load_text_encoder(config_.text_encoders.at(0),
                                     models::FileWeights(clip_file, clip_prefix), *clip_file,
                                     clip_prefix, device_, clip_file->path() + " (clip)")};
  tokenizers = {text::ClipTokenizer::from_dir(find_component(
      source, source.clip_tokenizer_dir, "tokenizer", "CLIP tokenizer", "clip_tokenizer"))};

  // T5: loaded now, and again later if it is dropped after encoding.
  std::string t5_path;
  if (file_of_checkpoint && source.t5_path.empty() &&
      prefix_of(*file_of_checkpoint, "encoder.final_layer_norm.weight"))
    t5_path = all_in_one;
  if (t5_path.empty())
    t5_path = find_component(source, source.t5_path, "text_encoder_2", "T5 encoder", "t5xxl");
  const auto t5_config = config_.t5;
  const auto compute = dtype_ == torch::kFloat32 ? torch::kFloat32 : torch::kBFloat16;
  const auto device = device_;
  load_t5_ = [t5_path, t5_config, compute, device, dtype = dtype_]() {
    models::T5Encoder t5{nullptr};
    if (ends_with(t5_path, ".gguf")) {
      const auto gguf = std::make_shared<const io::GgufFile>(t5_path);
      const models::GgufWeights weights(gguf, "", models::t5_gguf_key);
      t5 = load_kept<models::T5Encoder>(t5_config, weights, dtype, device, t5_path + " (t5)");
    } else if (fs::is_directory(t5_path)) {
      const auto files = models::component_weight_files(t5_path);
      t5 = load_kept<models::T5Encoder>(
          t5_config, *models::t5_encoder_weights(files),
          kept_dtype(models::stored_float_type(*files.front(), ""), dtype), device,
          t5_path + " (t5)");
    } else {
      const auto file = std::make_shared<const io::SafetensorsFile>(t5_path);
      const std::string prefix = models::t5_key_prefix(*file);
      t5 = load_kept<models::T5Encoder>(t5_config, *models::t5_encoder_weights(file, prefix),
                                        kept_dtype(models::stored_float_type(*file, prefix), dtype),
                                        device, file->path() + " (t5)");
    }
    t5->set_compute_dtype(compute);
    return t5;
  };
  drop_t5_ = source.drop_t5_after_encoding;
  t5_ = load_t5_();
  t5_tokenizer = std::make_shared<const text::T5Tokenizer>(
      find_component(source, source.t5_tokenizer_path, "tokenizer_2", "T5 tokenizer (spiece.model)",
                     "t5_tokenizer"));
}

}  // namespace dd::pipeline
