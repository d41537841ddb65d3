#pragma once
// The AdamW optimiser both phases use, its learning-rate updates and its checkpoint file.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

namespace dd::training {

std::unique_ptr<torch::optim::AdamW> make_optimizer(std::vector<torch::Tensor> parameters,
                                                    double lr);
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);
// Through a temporary file and rename, so a crash mid-save keeps the previous checkpoint.
void save_optimizer(torch::optim::Optimizer& optimizer, const std::string& path);
// dd::Error naming the file when it is missing or does not fit the parameters.
void load_optimizer(torch::optim::Optimizer& optimizer, const std::string& path);

}  // namespace dd::training
