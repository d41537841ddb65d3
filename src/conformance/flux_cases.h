#pragma once
// FLUX.1's conformance cases (../shared/fixtures-flux and fixtures-flux-fill): the kinds the SD
// set also has (tokenizer, text_encoder, encode_prompt, vae_decode, vae_encode, pipeline), checked
// the FLUX way, and its own (latent_packing, scheduler, transformer_forward, fill_conditioning).
#include <string>
#include <vector>

#include "conformance/cases.h"

namespace dd::conformance {

bool is_flux_case_kind(const std::string& kind);

// Runs one case of a model whose family is "flux"; a dd::Error when it cannot run.
std::vector<Comparison> run_flux_case(const io::FixtureSet& set, const io::FixtureCase& c,
                                      FixtureModels& models);

}  // namespace dd::conformance
