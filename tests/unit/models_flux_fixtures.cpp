#include "models_flux_fixtures.h"

#include <filesystem>
#include <fstream>
#include <random>

#include "io/tensor_file.h"
#include "models/weights.h"

namespace dd::test {

namespace fs = std::filesystem;

nlohmann::json flux_arch(const io::FixtureSet& set, const std::string& model) {
  std::ifstream in(set.model_path(model, "arch"));
  return nlohmann::json::parse(in);
}

std::string flux_transformer_dir(const io::FixtureSet& set, const std::string& model) {
  return set.model_path(model, "diffusers_dir") + "/transformer";
}

models::FluxWeightFiles open_flux_single_file(const io::FixtureSet& set, const std::string& model) {
  return models::open_flux_weights(
      std::make_shared<const io::SafetensorsFile>(set.model_path(model, "single_file")));
}

std::string write_prefixed_copy(const std::string& source, const std::string& prefix) {
  const io::SafetensorsFile file(source);
  io::NamedTensors tensors;
  for (const auto& entry : file.entries())
    tensors.emplace_back(prefix + entry.name, io::load_tensor(file, entry));
  std::random_device random;
  const auto dir = fs::temp_directory_path() / ("dd_flux_" + std::to_string(random()));
  fs::create_directories(dir);
  const auto path = (dir / fs::path(source).filename()).string();
  io::save_safetensors(path, tensors);
  return path;
}

models::FluxTransformer load_flux(const models::FluxConfig& config,
                                  const models::FluxWeightFiles& weights) {
  models::FluxTransformer model(config);
  models::load_weights(*model, *weights.source, "transformer (" + weights.layout + ")");
  model->eval();
  return model;
}

models::FluxInputs flux_case_inputs(const io::FixtureCase& c) {
  models::FluxInputs in;
  in.img = c.input("hidden_states");
  in.img_ids = c.input("img_ids");
  in.txt = c.input("encoder_hidden_states");
  in.txt_ids = c.input("txt_ids");
  in.timesteps = c.input("timestep");
  in.y = c.input("pooled_projections");
  if (c.has_input("guidance")) in.guidance = c.input("guidance");
  return in;
}

}  // namespace dd::test
