#pragma once
// `diffusiond worker`: a compute node on a shared PostgreSQL queue, without HTTP.
#include <CLI/CLI.hpp>

namespace dd::cli {

void add_worker_command(CLI::App& app, int& exit_code);

}  // namespace dd::cli
