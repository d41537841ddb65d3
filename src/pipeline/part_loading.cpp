#include "pipeline/part_loading.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <filesystem>
#include <fstream>

#include "util/error.h"

namespace dd::pipeline {

namespace fs = std::filesystem;

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": invalid JSON (" + e.what() + ")");
  }
}

std::string sidecar_arch_json(const std::string& file) {
  const fs::path path(file);
  const fs::path arch = path.parent_path() / (path.stem().string() + ".arch.json");
  return fs::exists(arch) ? arch.string() : "";
}


void ready_for_compute(torch::nn::Module& module, const io::SafetensorsFile& file,
                       torch::ScalarType dtype, const torch::Device& device) {
  module.eval();
  file.release_pages();
  if (dtype != torch::kFloat32) {
    module.to(dtype);
    // oneDNN's fast bf16 convolutions want channels-last (NHWC) weights and activations.
    torch::NoGradGuard no_grad;
    for (auto& param : module.parameters())
      if (param.dim() == 4) param.set_data(param.contiguous(at::MemoryFormat::ChannelsLast));
  }
  // Built and converted on the CPU, then moved: the device holds only the final weights.
  if (!device.is_cpu()) module.to(device);
#ifdef __GLIBC__
  malloc_trim(0);  // the float32 copies just freed go back to the system, not to the next part
#endif
}

models::ClipTextModel load_text_encoder(const models::ClipTextConfig& config,
                                        const models::WeightSource& weights,
                                        const io::SafetensorsFile& file, const std::string& prefix,
                                        const torch::Device& device, const std::string& name) {
  return load_part<models::ClipTextModel>(config, weights, file,
                                          models::stored_float_type(file, prefix), device, name);
}

}  // namespace dd::pipeline
