#pragma once
// `diffusiond conformance DIR`: its options; the suite itself is conformance/suite.h.
#include <CLI/CLI.hpp>
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

// Resolves --device and runs the suite; returns the process exit code (0 when nothing failed).
int run_conformance(const ConformanceOptions& options, std::ostream& out);

void add_conformance_command(CLI::App& app, int& exit_code);

}  // namespace dd::cli
