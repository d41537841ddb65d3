#pragma once
// --device and --dtype, declared once for every command that computes (generate, serve, bench,
// conformance, evaluate): the same names, defaults, help and errors everywhere.
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <string>

namespace dd::cli {

struct ComputeOptions {
  std::string device = "cpu";
  std::string dtype = "fp32";
};

// Adds --device (cpu, cuda, cuda:N) and, unless the command computes in float32 only, --dtype.
void add_compute_options(CLI::App* cmd, ComputeOptions& options, bool with_dtype = true);

struct ComputeTarget {
  torch::Device device = torch::kCPU;
  torch::ScalarType dtype = torch::kFloat32;
};

// Parses and checks both (models/device.h): a dd::Error for an unknown or absent device, or a
// dtype the device does not support. Float32 on a CUDA device turns TF32 off (exact float32).
ComputeTarget resolve_compute(const ComputeOptions& options);

}  // namespace dd::cli
