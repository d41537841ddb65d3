#pragma once
// A narrow copy of a preset for testing the benchmark itself in seconds: the same family,
// levels, block types, attention layout and conditioning (so every code path runs), with a few
// channels per layer. Its timings mean nothing; its checkpoint needs an architecture JSON.
#include "models/config.h"

namespace dd::bench {

models::ModelConfig tiny_variant(const models::ModelConfig& preset);

}  // namespace dd::bench
