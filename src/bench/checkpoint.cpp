#include "bench/checkpoint.h"

#include <array>
#include <filesystem>
#include <map>

#include "io/tensor_file.h"
#include "models/checkpoint_keys.h"
#include "models/clip_keys.h"
#include "models/clip_text.h"
#include "models/unet.h"
#include "models/vae.h"
#include "models/vae_keys.h"

namespace dd::bench {

namespace {

// Modules made while this lives get bf16 parameters straight away: building SDXL in fp32 first
// would need 14 GB for a moment.
class DefaultDtypeGuard {
 public:
  explicit DefaultDtypeGuard(caffe2::TypeMeta dtype) : previous_(torch::get_default_dtype()) {
    torch::set_default_dtype(dtype);
  }
  ~DefaultDtypeGuard() { torch::set_default_dtype(previous_); }
  DefaultDtypeGuard(const DefaultDtypeGuard&) = delete;
  DefaultDtypeGuard& operator=(const DefaultDtypeGuard&) = delete;

 private:
  caffe2::TypeMeta previous_;
};

// Every tensor load_weights fills: parameters and buffers, under the module's own names.
io::NamedTensors named_tensors(const torch::nn::Module& module) {
  io::NamedTensors out;
  for (const auto& item : module.named_parameters()) out.emplace_back(item.key(), item.value());
  for (const auto& item : module.named_buffers()) out.emplace_back(item.key(), item.value());
  return out;
}

void add_renamed(io::NamedTensors& out, const torch::nn::Module& module,
                 const std::function<std::string(const std::string&)>& key) {
  for (auto& [name, tensor] : named_tensors(module)) out.emplace_back(key(name), tensor);
}

// OpenCLIP stores q, k and v of a layer as one in_proj tensor [q; k; v] and the text projection
// transposed: the inverse of what models::OpenClipWeights reads.
void add_open_clip(io::NamedTensors& out, const torch::nn::Module& encoder,
                   const std::string& prefix) {
  const models::OpenClipWeights layout(nullptr, prefix);  // only names are asked of it
  std::map<std::string, std::array<torch::Tensor, 3>> fused;
  for (auto& [name, tensor] : named_tensors(encoder)) {
    const auto stored = layout.stored(name);
    if (stored.qkv_part >= 0)
      fused[stored.key][stored.qkv_part] = tensor;
    else
      out.emplace_back(stored.key, stored.transposed ? tensor.t().contiguous() : tensor);
  }
  for (auto& [key, parts] : fused)
    out.emplace_back(key, torch::cat({parts[0], parts[1], parts[2]}, 0));
}

void add_text_encoder(io::NamedTensors& out, const torch::nn::Module& encoder,
                      const models::ClipTextConfig& config) {
  if (config.single_file_layout == models::TextLayout::OpenClip)
    add_open_clip(out, encoder, config.single_file_prefix);
  else
    add_renamed(out, encoder,
                [&](const std::string& name) { return config.single_file_prefix + name; });
}

}  // namespace

uint64_t write_random_checkpoint(const models::ModelConfig& config, const std::string& path) {
  torch::NoGradGuard no_grad;
  io::NamedTensors tensors;
  DefaultDtypeGuard bf16(caffe2::TypeMeta::Make<at::BFloat16>());
  models::UNet unet(config.unet);
  add_renamed(tensors, *unet, [&](const std::string& name) {
    return "model.diffusion_model." + models::unet_single_file_key(name, config.unet);
  });
  models::AutoencoderKL vae(config.vae);
  add_renamed(tensors, *vae, [&](const std::string& name) {
    return models::vae_single_file_key(name, config.vae);
  });
  for (const auto& clip : config.text_encoders) {
    models::ClipTextModel encoder(clip);
    add_text_encoder(tensors, *encoder, clip);
  }
  io::save_safetensors(path, tensors);
  return std::filesystem::file_size(path);
}

}  // namespace dd::bench
