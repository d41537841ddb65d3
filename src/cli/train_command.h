#pragma once
// `diffusiond train`: trains the built-in scene model (src/training) and writes it as a
// diffusers folder.
#include <CLI/CLI.hpp>

namespace dd::cli {

void add_train_command(CLI::App& app, int& exit_code);

}  // namespace dd::cli
