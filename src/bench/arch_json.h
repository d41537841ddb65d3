#pragma once
// A model's hyperparameters written as an architecture JSON (the format of the fixtures'
// <model>.arch.json that models::model_config_from_arch_json reads). pipeline::DiffusionModel
// needs one beside any single-file checkpoint that is not of a built-in preset's size.
#include <nlohmann/json.hpp>

#include "models/config.h"

namespace dd::bench {

// What model_config_from_arch_json reads back as `config` (all but a diffusers scheduler
// config). The format ties the middle block to the deepest level (same heads; same transformer
// depth when that level has attention); a config that breaks this is a dd::Error.
nlohmann::json arch_json(const models::ModelConfig& config);

}  // namespace dd::bench
