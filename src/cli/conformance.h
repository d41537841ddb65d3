#pragma once
// `diffusiond conformance DIR`: runs every case of a reference fixtures directory (the format of
// ../shared/fixtures: manifest.json + cases/*.safetensors) against the engine, printing one line
// per case with its largest difference and a closing `N passed, N failed, N skipped` line.
#include <ostream>
#include <string>

#include "cli/compute_options.h"

namespace dd::cli {

struct ConformanceOptions {
  std::string dir;
  std::string only;  // run only cases whose name contains this
  bool verbose = false;
  ComputeOptions compute;  // float32 always; --device picks where (TF32 off on CUDA)
};

// Returns the process exit code: 0 when nothing failed.
int run_conformance(const ConformanceOptions& options, std::ostream& out);

}  // namespace dd::cli
