#pragma once
// The one parameter type from a request to the engine: every field a user may set, each
// optional. HTTP dialects and the CLI fill in what the caller gave, the job stores it as-is,
// and resolve() (pipeline/resolve.h) fills the rest from the model's and the engine's defaults.
// A model's sidecar defaults are a GenerationParams too.
//
// Adding a field: a member here and one `visit` line in for_each_field; JSON, merging and the
// stored job follow from that.
#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "pipeline/micro_conditioning.h"

namespace dd::pipeline {

struct GenerationParams {
  std::optional<std::string> prompt;
  std::optional<std::string> negative_prompt;
  std::optional<int> width;  // pixels, multiples of 8; unset = the model's native size
  std::optional<int> height;
  std::optional<int> steps;
  std::optional<double> cfg;  // classifier-free guidance; <= 1 disables the unconditional pass
  std::optional<std::string> sampler;    // any accepted spelling (sampling/sampler_catalogue.h)
  std::optional<std::string> spacing;    // leading | linspace | trailing; "" = the sampler's own
  std::optional<int64_t> seed;           // < 0 = random; image i uses seed + i
  std::optional<int> samples;            // images per call
  std::optional<int> clip_skip;          // A1111 numbering: 1 = last layer, 2 = penultimate
  std::optional<double> strength;        // img2img: how much of the input to repaint
  std::optional<bool> prompt_weighting;  // parse A1111 (word:1.2) syntax
  std::optional<double> guidance;        // FLUX dev/Fill distilled guidance (an input, not a pass)
  std::optional<double> true_cfg;        // FLUX: > 1 runs a real CFG pass with the negative prompt
  std::optional<int> max_sequence_length;  // FLUX: T5 tokens, 1..512; 0 = the model's
  MicroConditioning micro;                 // SDXL only; each part optional
  MicroConditioning negative_micro;

  // Calls visit(json_name, member, ...) for every field in declaration order, with that member
  // of each object given (one object to read or fill it, two to merge).
  template <typename Visit, typename... Self>
  static void for_each_field(Visit&& visit, Self&... self) {
    visit("prompt", self.prompt...);
    visit("negative_prompt", self.negative_prompt...);
    visit("width", self.width...);
    visit("height", self.height...);
    visit("steps", self.steps...);
    visit("cfg", self.cfg...);
    visit("sampler", self.sampler...);
    visit("spacing", self.spacing...);
    visit("seed", self.seed...);
    visit("samples", self.samples...);
    visit("clip_skip", self.clip_skip...);
    visit("strength", self.strength...);
    visit("prompt_weighting", self.prompt_weighting...);
    visit("guidance", self.guidance...);
    visit("true_cfg", self.true_cfg...);
    visit("max_sequence_length", self.max_sequence_length...);
    visit("original_size", self.micro.original_size...);
    visit("crop_top_left", self.micro.crop_top_left...);
    visit("target_size", self.micro.target_size...);
    visit("negative_original_size", self.negative_micro.original_size...);
    visit("negative_crop_top_left", self.negative_micro.crop_top_left...);
    visit("negative_target_size", self.negative_micro.target_size...);
  }

  // Unset fields are left out.
  nlohmann::json to_json() const;
  // Absent or null fields stay unset; `where` prefixes errors ("job spec: 'steps' must be an
  // integer"). Unknown keys are an error when `strict` (a sidecar), ignored otherwise.
  static GenerationParams from_json(const nlohmann::json& json, const std::string& where,
                                    bool strict = false);
  // Each field from this object when set, else from `fallback`.
  GenerationParams over(const GenerationParams& fallback) const;

  bool operator==(const GenerationParams&) const = default;
};

}  // namespace dd::pipeline
