#include "training/module_tensors.h"

#include <memory>

#include "io/safetensors.h"
#include "models/weights.h"

namespace dd::training {

namespace {

torch::Tensor stored(const torch::Tensor& tensor, torch::ScalarType dtype) {
  torch::Tensor t = tensor.detach();
  if (t.is_floating_point()) t = t.to(dtype);
  return t.contiguous();
}

}  // namespace

io::NamedTensors module_tensors(torch::nn::Module& module, torch::ScalarType dtype) {
  io::NamedTensors tensors;
  for (const auto& item : module.named_parameters(/*recurse=*/true))
    tensors.emplace_back(item.key(), stored(item.value(), dtype));
  for (const auto& item : module.named_buffers(/*recurse=*/true))
    tensors.emplace_back(item.key(), stored(item.value(), dtype));
  return tensors;
}

void save_module(torch::nn::Module& module, const std::string& path, torch::ScalarType dtype) {
  io::save_safetensors(path, module_tensors(module, dtype));
}

void load_module(torch::nn::Module& module, const std::string& path) {
  auto file = std::make_shared<const io::SafetensorsFile>(path);
  torch::NoGradGuard no_grad;
  models::load_weights(module, models::FileWeights(file, ""), path);
}

}  // namespace dd::training
