#pragma once
// What every case runner uses: comparing an output with the reference, a case's inputs on the
// models' device, and the reference's random draws replayed in order.
#include <torch/torch.h>

#include <string>
#include <vector>

#include "conformance/cases.h"
#include "io/fixtures.h"
#include "pipeline/request.h"
#include "sampling/sampler.h"

namespace dd::conformance {

// |got - expected| against the output's tolerance; a shape that differs is a dd::Error.
Comparison compare(const io::FixtureCase& c, const std::string& output, const torch::Tensor& got,
                   const std::string& label = "");

// A case's input tensor on the device the models compute on.
torch::Tensor input_on(const FixtureModels& models, const io::FixtureCase& c,
                       const std::string& name);

// A literal string input, "" when absent or null.
std::string string_input(const io::FixtureCase& c, const std::string& name);

// A kind of case and its check, as the families' tables (cases.cpp, flux_cases.cpp) list them:
// one table per family serves both dispatch and skipping.
using CaseRunner = std::vector<Comparison> (*)(const io::FixtureSet&, const io::FixtureCase&,
                                               FixtureModels&);
struct CaseKind {
  const char* name;
  CaseRunner run;
};

template <size_t N>
const CaseKind* find_case_kind(const CaseKind (&kinds)[N], const std::string& name) {
  for (const auto& kind : kinds)
    if (name == kind.name) return &kind;
  return nullptr;
}

// A pipeline case run from both layouts with the reference's random draws (`in.noise`),
// comparing the final latents and image.
std::vector<Comparison> compare_pipeline(const io::FixtureCase& c, FixtureModels& models,
                                         const pipeline::GenerationRequest& request);

// Replays the random draws the reference made, in order (`in.noise`).
class RecordedNoise : public sampling::NoiseSource {
 public:
  explicit RecordedNoise(torch::Tensor draws) : draws_(std::move(draws)) {}
  torch::Tensor next(at::IntArrayRef shape) override;

 private:
  torch::Tensor draws_;
  int64_t index_ = 0;
};

}  // namespace dd::conformance
