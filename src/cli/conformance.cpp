#include "cli/conformance.h"

#include <iostream>
#include <memory>

#include "conformance/suite.h"

namespace dd::cli {

int run_conformance(const ConformanceOptions& options, std::ostream& out) {
  conformance::SuiteOptions suite;
  suite.dir = options.dir;
  suite.only = options.only;
  suite.verbose = options.verbose;
  suite.device = resolve_compute(options.compute).device;
  return conformance::run_suite(suite, out);
}

void add_conformance_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<ConformanceOptions>();
  auto* cmd = app.add_subcommand(
      "conformance", "Run every case of a reference fixtures directory against the engine");
  cmd->add_option("dir", options->dir, "Folder with manifest.json (e.g. ../shared/fixtures)")
      ->required();
  cmd->add_option("--only", options->only, "Run only cases whose name contains this text");
  cmd->add_flag("-v,--verbose", options->verbose, "Show every comparison of every case");
  add_compute_options(cmd, options->compute, /*with_dtype=*/false);
  cmd->callback([options, &exit_code] { exit_code = run_conformance(*options, std::cout); });
}

}  // namespace dd::cli
