#pragma once
// `diffusiond bench`: speed and memory of a real-sized model on this machine (see bench/run.h).
#include <CLI/CLI.hpp>

namespace dd::cli {

void add_bench_command(CLI::App& app, int& exit_code);

}  // namespace dd::cli
