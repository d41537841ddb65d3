#pragma once
// Reading one field of a config JSON object, the same way for every config parser: a missing
// required field or a value of the wrong type is a dd::Error saying which (`where` names the
// config: "config", "T5 config").
#include <nlohmann/json.hpp>
#include <string>

#include "util/error.h"

namespace dd::models {

template <typename T>
T json_field(const nlohmann::json& config, const char* key, const char* where) {
  if (!config.contains(key) || config[key].is_null())
    throw Error(std::string(where) + ": missing '" + key + "'");
  try {
    return config[key].get<T>();
  } catch (const nlohmann::json::exception&) {
    throw Error(std::string(where) + ": '" + key + "' has the wrong type");
  }
}

template <typename T>
T json_field_or(const nlohmann::json& config, const char* key, T fallback, const char* where) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  return json_field<T>(config, key, where);
}

}  // namespace dd::models
