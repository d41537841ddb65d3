#pragma once
// The conformance suite (`diffusiond conformance DIR`): runs every case of a reference fixtures
// directory (the format of ../shared/fixtures: manifest.json + cases/*.safetensors) against the
// engine, printing one line per case with its largest difference and a closing
// `N passed, N failed, N skipped` line.
#include <torch/torch.h>

#include <ostream>
#include <string>

namespace dd::conformance {

struct SuiteOptions {
  std::string dir;
  std::string only;  // run only cases whose name contains this
  bool verbose = false;
  // Where the fixture models compute, always in float32 (the caller turns TF32 off on CUDA).
  torch::Device device = torch::kCPU;
};

// Returns the process exit code: 0 when nothing failed.
int run_suite(const SuiteOptions& options, std::ostream& out);

}  // namespace dd::conformance
