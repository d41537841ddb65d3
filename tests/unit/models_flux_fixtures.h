#pragma once
// Loading the FLUX fixtures' tiny transformers in each layout, for the models_flux_* tests.
#include <torch/torch.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "io/fixtures.h"
#include "models/flux_config.h"
#include "models/flux_keys.h"
#include "models/flux_transformer.h"

namespace dd::test {

// The architecture JSON of a fixture model, parsed.
nlohmann::json flux_arch(const io::FixtureSet& set, const std::string& model);

// <diffusers_dir>/transformer/.
std::string flux_transformer_dir(const io::FixtureSet& set, const std::string& model);

// Opens the BFL single file.
models::FluxWeightFiles open_flux_single_file(const io::FixtureSet& set, const std::string& model);

// Writes every tensor of `source` under `prefix` into a new file in a fresh temporary folder,
// keeping the stored dtypes; returns its path.
std::string write_prefixed_copy(const std::string& source, const std::string& prefix);

// A transformer built from `config` with every tensor from `weights`, in eval mode.
models::FluxTransformer load_flux(const models::FluxConfig& config,
                                  const models::FluxWeightFiles& weights);

// The inputs of a transformer_forward case (guidance only where the case has one).
models::FluxInputs flux_case_inputs(const io::FixtureCase& c);

}  // namespace dd::test
