#pragma once
// Built-in architectures of the real model families. Real single-file checkpoints store no
// hyperparameters, so the family is detected from the keys and shapes present.
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "models/config.h"

namespace dd::models {

// Presets by name: sd15, sd15-inpaint, sd21 (v-prediction, 768), sd21-base, sdxl, sdxl-lightning.
ModelConfig preset(const std::string& name);
std::vector<std::string> preset_names();

// Picks the preset a single-file checkpoint was made for, or throws a dd::Error saying why none
// fits (e.g. a model of another size, which then needs an architecture JSON).
std::string detect_preset(const io::SafetensorsFile& checkpoint);

}  // namespace dd::models
