#include "training/optimizer.h"

#include <filesystem>

#include "util/error.h"

namespace dd::training {

std::unique_ptr<torch::optim::AdamW> make_optimizer(std::vector<torch::Tensor> parameters,
                                                    double lr) {
  // No weight decay: these models are small and trained briefly, far from over-fitting.
  return std::make_unique<torch::optim::AdamW>(std::move(parameters),
                                               torch::optim::AdamWOptions(lr).weight_decay(0.0));
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups())
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
}

void save_optimizer(torch::optim::Optimizer& optimizer, const std::string& path) {
  const std::string temporary = path + ".tmp";
  torch::save(optimizer, temporary);
  std::filesystem::rename(temporary, path);
}

void load_optimizer(torch::optim::Optimizer& optimizer, const std::string& path) {
  if (!std::filesystem::exists(path)) throw Error(path + ": missing optimiser checkpoint");
  try {
    torch::load(optimizer, path);
  } catch (const c10::Error& e) {
    throw Error(path + ": unreadable optimiser checkpoint (" + e.what_without_backtrace() + ")");
  }
}

}  // namespace dd::training
