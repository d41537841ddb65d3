#pragma once
// Reads a reference fixtures directory (manifest.json + cases/*.safetensors, the format of
// ../shared/fixtures/README.md). Used by the conformance command and by the unit tests.
#include <torch/torch.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace dd::io {

class FixtureCase {
 public:
  FixtureCase(std::string root, nlohmann::json spec);

  const std::string& name() const;
  const std::string& kind() const;
  const std::string& model() const;
  const nlohmann::json& spec() const { return spec_; }
  // Literal input ("value") or nullptr-json when the input is a tensor or absent.
  const nlohmann::json& input_value(const std::string& input) const;
  bool has_input(const std::string& input) const;
  bool has_expected(const std::string& output) const;
  // Tensors by their manifest names (inputs, expected outputs, debug intermediates).
  torch::Tensor input(const std::string& input) const;
  torch::Tensor expected(const std::string& output) const;
  torch::Tensor debug(const std::string& name) const;
  // recommended_atol of an expected float output (0 for integer outputs: exact).
  double tolerance(const std::string& output) const;
  std::vector<std::string> expected_names() const;

 private:
  torch::Tensor tensor(const char* section, const std::string& name) const;
  const SafetensorsFile& file() const;

  std::string root_;
  nlohmann::json spec_;
  mutable std::shared_ptr<SafetensorsFile> file_;
};

class FixtureSet {
 public:
  explicit FixtureSet(const std::string& dir);

  const std::string& root() const { return root_; }
  const nlohmann::json& manifest() const { return manifest_; }
  const std::vector<FixtureCase>& cases() const { return cases_; }
  const FixtureCase& at(const std::string& name) const;
  bool contains(const std::string& name) const;
  // Path (relative to the manifest) of a model file entry, e.g. ("sd15-tiny", "arch").
  std::string model_path(const std::string& model, const std::string& field) const;
  std::string resolve(const std::string& relative) const;

 private:
  std::string root_;
  nlohmann::json manifest_;
  std::vector<FixtureCase> cases_;
};

// Max |a - b| over all elements (both converted to float64); shapes must agree.
double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace dd::io
