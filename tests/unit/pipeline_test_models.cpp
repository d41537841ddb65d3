#include "pipeline_test_models.h"

#include <map>

#include "test_support.h"

namespace dd::test {

std::string sd15_tiny_dir() { return fixtures().model_path("sd15-tiny", "diffusers_dir"); }

pipeline::DiffusionModel& sd15_tiny(torch::ScalarType dtype) {
  static std::map<torch::ScalarType, std::shared_ptr<pipeline::DiffusionModel>> models;
  auto& slot = models[dtype];
  if (!slot) {
    pipeline::ModelSource source;
    source.path = sd15_tiny_dir();
    source.dtype = dtype;
    slot = pipeline::DiffusionModel::load(source);
  }
  return *slot;
}

}  // namespace dd::test
