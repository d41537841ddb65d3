#pragma once
// The checks behind each kind of conformance case. Each returns the comparisons it made; a case
// passes when every comparison is within its tolerance.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/fixtures.h"
#include "pipeline/model.h"

namespace dd::conformance {

struct Comparison {
  std::string what;  // e.g. "single-file noise_pred"
  double max_abs_diff = 0;
  double tolerance = 0;
  bool passed() const { return max_abs_diff <= tolerance; }
};

// Loads each fixture model once per layout, in float32 on `device`.
class FixtureModels {
 public:
  explicit FixtureModels(const io::FixtureSet& set, torch::Device device = torch::kCPU)
      : set_(set), device_(device) {}
  const torch::Device& device() const { return device_; }
  enum class Layout { SingleFile, Diffusers };
  pipeline::DiffusionModel& get(const std::string& model, Layout layout);
  std::string family(const std::string& model) const;

 private:
  const io::FixtureSet& set_;
  torch::Device device_;
  std::map<std::pair<std::string, int>, std::shared_ptr<pipeline::DiffusionModel>> cache_;
};

const char* layout_name(FixtureModels::Layout layout);

// Runs one case; throws dd::Error when it cannot run (that counts as a failure).
std::vector<Comparison> run_case(const io::FixtureSet& set, const io::FixtureCase& c,
                                 FixtureModels& models);

// Why a case is skipped ("" when it is supported).
std::string unsupported_reason(const io::FixtureCase& c, const FixtureModels& models);

}  // namespace dd::conformance
