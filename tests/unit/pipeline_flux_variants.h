#pragma once
// FLUX.1 model variants built from the tiny fixture models for the pipeline_flux_* tests: the
// transformer, VAE, text encoders and tokenizers re-saved in the layouts real releases use (BFL
// transformer file, ae.safetensors with LDM names, ComfyUI all-in-one checkpoints, GGUF, float8),
// loading them, and one small generation to compare their images.
#include <torch/torch.h>

#include <filesystem>
#include <memory>
#include <string>

#include "io/tensor_file.h"
#include "pipeline/model.h"
#include "pipeline/request.h"

namespace dd::test {

// A fresh temporary folder, removed with everything in it at the end of the scope.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// The fixture files of "flux-schnell-tiny" or "flux-dev-tiny".
std::string flux_folder(const std::string& model);     // diffusers folder
std::string flux_bfl_file(const std::string& model);   // BFL transformer, float16
std::string flux_arch_json(const std::string& model);  // architecture JSON
std::string flux_clip_file();                          // text_encoder/model.safetensors
std::string flux_t5_file();                            // text_encoder_2/model.safetensors

// Every tensor of `file` as stored, each name prefixed with `prefix`.
io::NamedTensors read_tensors(const std::string& file, const std::string& prefix = "");
// The fixture VAE with BFL's ae.safetensors names (LDM layout, 1x1 convolutions for the mid
// attention's projections), each prefixed with `prefix`.
io::NamedTensors ldm_vae_tensors(const std::string& prefix = "");
// Copies the fixture's tokenizer/ and tokenizer_2/ into `dir`.
void copy_tokenizers(const std::filesystem::path& dir);

// The BFL transformer as GGUF: 2-D weights whose rows are whole Q8_0 blocks as Q8_0 (quantised by
// the reference quantiser), every other tensor F16. Returns the names written as Q8_0.
std::vector<std::string> write_gguf_transformer(const std::string& model, const std::string& path);
// The fixture T5 encoder as GGUF with llama.cpp's names (models::t5_gguf_key), F16 (exact).
void write_gguf_t5(const std::string& path);

// Every floating tensor converted to `dtype`.
io::NamedTensors converted(io::NamedTensors tensors, torch::ScalarType dtype);

std::shared_ptr<pipeline::DiffusionModel> load_flux_model(const pipeline::ModelSource& source);
// The fixture's diffusers folder, loaded.
std::shared_ptr<pipeline::DiffusionModel> load_flux_folder(const std::string& model);

// A small txt2img request: 64x64, 2 Euler steps, 16 T5 tokens.
pipeline::GenerationRequest flux_request(const std::string& prompt = "a red fox in the snow",
                                         uint64_t seed = 7);
// The images [N, H, W, 3] of one generation.
torch::Tensor flux_images(pipeline::DiffusionModel& model,
                          const pipeline::GenerationRequest& request = flux_request(),
                          const pipeline::GenerationHooks& hooks = {});

}  // namespace dd::test
