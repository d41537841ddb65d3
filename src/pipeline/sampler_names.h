#pragma once
// Sampler names as users know them: the engine's names (euler_a), A1111's display names
// ("Euler a", "PLMS") and aliases (k_euler_a), in any case. They all come from the sampler
// catalogue (sampling/sampler_catalogue.h); these are its lookups under the pipeline's names.
#include "sampling/sampler_catalogue.h"

namespace dd::pipeline {

// The engine's name for any accepted spelling; a dd::Error listing the choices otherwise.
using sampling::canonical_sampler_name;
// A1111's display name ("euler_a" -> "Euler a").
using sampling::sampler_display_name;
// The engine names and display names.
using sampling::accepted_sampler_names;
// The display names joined by ", ", for help text.
using sampling::sampler_choices_text;

}  // namespace dd::pipeline
