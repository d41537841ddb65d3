#pragma once
// `diffusiond generate`: one request from the command line to PNG files.
#include <CLI/CLI.hpp>

namespace dd::cli {

void add_generate_command(CLI::App& app, int& exit_code);

}  // namespace dd::cli
