#pragma once
// Command-line options that set an optional request parameter (pipeline::GenerationParams):
// an option not given leaves its field unset, for resolve() to fill from the model's defaults.
#include <CLI/CLI.hpp>
#include <optional>
#include <sstream>
#include <string>

namespace dd::cli {

template <typename T>
CLI::Option* add_param(CLI::App* command, const std::string& name, std::optional<T>& field,
                       const std::string& help) {
  return command->add_option_function<T>(
      name, [&field](const T& value) { field = value; }, help);
}

// " (default: the model's, else V)" for help text, V the engine's default.
template <typename T>
std::string model_default(const std::optional<T>& engine_value) {
  std::ostringstream text;
  text << " (default: the model's, else " << engine_value.value_or(T{}) << ")";
  return text.str();
}

}  // namespace dd::cli
