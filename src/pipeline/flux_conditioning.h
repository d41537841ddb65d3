#pragma once
// FLUX.1's prompt encoding (diffusers' FluxPipeline.encode_prompt): the transformer is
// conditioned on T5's last hidden state of exactly `max_sequence_length` tokens (padding included:
// no attention mask) and on CLIP's pooled output of the 77-token ids. Prompts are taken as
// written, as the reference takes them: A1111's (word:1.2) weights are not applied.
#include <string>

#include "pipeline/conditioning.h"
#include "pipeline/model.h"

namespace dd::pipeline {

// context [1, L, t5 d_model] and pooled [1, clip hidden], float32 on the model's device. Answers
// from the prompt cache when it can; without a cached answer it needs the T5 encoder (reloaded
// if it was dropped to save memory).
Conditioning encode_flux_prompt(DiffusionModel& model, const std::string& prompt,
                                int max_sequence_length);

}  // namespace dd::pipeline
