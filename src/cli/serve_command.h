#pragma once
// `diffusiond serve` (the HTTP service) and `diffusiond keys` (API key management).
#include <CLI/CLI.hpp>

namespace dd::cli {

void add_serve_command(CLI::App& app, int& exit_code);
void add_keys_command(CLI::App& app, int& exit_code);

}  // namespace dd::cli
