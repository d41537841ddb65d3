#include "pipeline_flux_variants.h"

#include <cstdlib>
#include <fstream>

#include "gguf_reference_quant.h"
#include "gguf_test_writer.h"
#include "models/flux_model_config.h"
#include "models/gguf_weights.h"
#include "models/vae_keys.h"
#include "pipeline/generate.h"
#include "test_support.h"

namespace dd::test {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "dd_flux_XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("cannot make a temporary folder");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

std::string flux_folder(const std::string& model) {
  return flux_fixtures().model_path(model, "diffusers_dir");
}
std::string flux_bfl_file(const std::string& model) {
  return flux_fixtures().model_path(model, "single_file");
}
std::string flux_arch_json(const std::string& model) {
  return flux_fixtures().model_path(model, "arch");
}
std::string flux_clip_file() {
  return flux_folder("flux-schnell-tiny") + "/text_encoder/model.safetensors";
}
std::string flux_t5_file() {
  return flux_folder("flux-schnell-tiny") + "/text_encoder_2/model.safetensors";
}

io::NamedTensors read_tensors(const std::string& path, const std::string& prefix) {
  const io::SafetensorsFile file(path);
  io::NamedTensors out;
  for (const auto& entry : file.entries())
    out.emplace_back(prefix + entry.name, io::load_tensor(file, entry));
  return out;
}

io::NamedTensors ldm_vae_tensors(const std::string& prefix) {
  const std::string folder = flux_folder("flux-schnell-tiny");
  const auto config = models::flux_model_config_from_diffusers_dir(folder).vae;
  io::NamedTensors out;
  for (auto& [name, tensor] : read_tensors(folder + "/vae/diffusion_pytorch_model.safetensors")) {
    // LDM's mid attention projects with 1x1 convolutions, diffusers with Linear layers.
    const auto stored =
        tensor.dim() == 2 ? tensor.view({tensor.size(0), tensor.size(1), 1, 1}) : tensor;
    out.emplace_back(prefix + models::vae_ldm_name(name, config), stored);
  }
  return out;
}

void copy_tokenizers(const fs::path& dir) {
  const fs::path folder = flux_folder("flux-schnell-tiny");
  for (const char* sub : {"tokenizer", "tokenizer_2"})
    fs::copy(folder / sub, dir / sub, fs::copy_options::recursive);
}

namespace {

constexpr uint32_t kGgufF16 = 1, kGgufQ8_0 = 8;

std::vector<float> floats_of(const torch::Tensor& t) {
  const auto f = t.to(torch::kFloat32).contiguous();
  return {f.data_ptr<float>(), f.data_ptr<float>() + f.numel()};
}

// ggml's ne: the PyTorch shape reversed.
std::vector<uint64_t> ne_of(const torch::Tensor& t) {
  std::vector<uint64_t> ne;
  for (int64_t d = t.dim() - 1; d >= 0; --d) ne.push_back(static_cast<uint64_t>(t.size(d)));
  return ne;
}

void save_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace

std::vector<std::string> write_gguf_transformer(const std::string& model, const std::string& path) {
  GgufWriter writer;
  std::vector<std::string> quantised;
  for (const auto& [name, tensor] : read_tensors(flux_bfl_file(model))) {
    if (tensor.dim() == 2 && tensor.size(1) % 32 == 0) {
      writer.add_tensor(name, kGgufQ8_0, ne_of(tensor), encode_q8_0(floats_of(tensor)).bytes);
      quantised.push_back(name);
    } else {
      writer.add_tensor(name, kGgufF16, ne_of(tensor), encode_f16(floats_of(tensor)).bytes);
    }
  }
  save_bytes(path, writer.bytes());
  return quantised;
}

void write_gguf_t5(const std::string& path) {
  GgufWriter writer;
  for (const auto& [name, tensor] : read_tensors(flux_t5_file()))
    writer.add_tensor(models::t5_gguf_key(name), kGgufF16, ne_of(tensor),
                      encode_f16(floats_of(tensor)).bytes);
  save_bytes(path, writer.bytes());
}

io::NamedTensors converted(io::NamedTensors tensors, torch::ScalarType dtype) {
  for (auto& [name, tensor] : tensors)
    if (tensor.is_floating_point()) tensor = tensor.to(dtype);
  return tensors;
}

std::shared_ptr<pipeline::DiffusionModel> load_flux_model(const pipeline::ModelSource& source) {
  return pipeline::DiffusionModel::load(source);
}

std::shared_ptr<pipeline::DiffusionModel> load_flux_folder(const std::string& model) {
  pipeline::ModelSource source;
  source.path = flux_folder(model);
  return load_flux_model(source);
}

pipeline::GenerationRequest flux_request(const std::string& prompt, uint64_t seed) {
  pipeline::GenerationRequest request;
  request.prompt = prompt;
  request.seed = seed;
  request.width = request.height = 64;
  request.steps = 2;
  request.sampler = "euler";
  request.cfg = 1.0;
  request.max_sequence_length = 16;
  return request;
}

torch::Tensor flux_images(pipeline::DiffusionModel& model,
                          const pipeline::GenerationRequest& request,
                          const pipeline::GenerationHooks& hooks) {
  return pipeline::generate(model, request, hooks).images;
}

}  // namespace dd::test
