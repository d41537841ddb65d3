#include "pipeline/generation_params.h"

#include <limits>
#include <set>
#include <type_traits>

#include "util/error.h"

namespace dd::pipeline {

namespace {

using Pair = std::array<int, 2>;

[[noreturn]] void wrong(const std::string& where, const std::string& key, const char* expected) {
  throw Error(where + "'" + key + "' must be " + expected);
}

template <typename Int>
Int read_integer(const nlohmann::json& value, const std::string& where, const std::string& key) {
  if (!value.is_number_integer()) wrong(where, key, "an integer");
  if (value.is_number_unsigned() &&
      value.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    wrong(where, key, "in range");
  const auto wide = value.get<int64_t>();
  if (wide < std::numeric_limits<Int>::min() || wide > std::numeric_limits<Int>::max())
    wrong(where, key, "in range");
  return static_cast<Int>(wide);
}

template <typename T>
T read_value(const nlohmann::json& value, const std::string& where, const std::string& key) {
  if constexpr (std::is_same_v<T, std::string>) {
    if (!value.is_string()) wrong(where, key, "a string");
    return value.get<std::string>();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!value.is_boolean()) wrong(where, key, "true or false");
    return value.get<bool>();
  } else if constexpr (std::is_same_v<T, double>) {
    if (!value.is_number()) wrong(where, key, "a number");
    return value.get<double>();
  } else if constexpr (std::is_same_v<T, Pair>) {
    if (!value.is_array() || value.size() != 2) wrong(where, key, "two integers");
    return Pair{read_integer<int>(value[0], where, key), read_integer<int>(value[1], where, key)};
  } else {
    return read_integer<T>(value, where, key);
  }
}

}  // namespace

nlohmann::json GenerationParams::to_json() const {
  nlohmann::json out = nlohmann::json::object();
  for_each_field(
      [&](const char* key, const auto& member) {
        if (member) out[key] = *member;
      },
      *this);
  return out;
}

GenerationParams GenerationParams::from_json(const nlohmann::json& json, const std::string& where,
                                             bool strict) {
  if (!json.is_object()) throw Error(where + "must be a JSON object");
  GenerationParams params;
  std::set<std::string> known;
  for_each_field(
      [&](const char* key, auto& member) {
        known.insert(key);
        const auto it = json.find(key);
        if (it == json.end() || it->is_null()) return;
        using T = typename std::remove_reference_t<decltype(member)>::value_type;
        member = read_value<T>(*it, where, key);
      },
      params);
  if (strict)
    for (const auto& item : json.items())
      if (!known.count(item.key())) throw Error(where + "unknown field '" + item.key() + "'");
  return params;
}

GenerationParams GenerationParams::over(const GenerationParams& fallback) const {
  GenerationParams merged = fallback;
  for_each_field(
      [](const char*, const auto& mine, auto& out) {
        if (mine) out = mine;
      },
      *this, merged);
  return merged;
}

}  // namespace dd::pipeline
