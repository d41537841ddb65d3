#pragma once
// `diffusiond evaluate`: how well a model draws held-out scenes (shape, colour and position
// combinations it never saw in training), graded by the classical scene analyser.
#include <CLI/CLI.hpp>

namespace dd::cli {

void add_evaluate_command(CLI::App& app, int& exit_code);

}  // namespace dd::cli
