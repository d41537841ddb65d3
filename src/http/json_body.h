#pragma once
// Typed access to a JSON request body. Unknown fields are ignored; a field of the wrong type or
// out of range is a 400 ApiError naming it; null counts as absent.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace dd::http {

class JsonBody {
 public:
  // A body nested deeper, or holding more values, is refused (400) as soon as the parse sees it.
  static constexpr int kMaxDepth = 64;
  static constexpr size_t kMaxValues = 100000;

  // Malformed JSON or a body that is not an object is a 400 invalid_json error.
  explicit JsonBody(const std::string& body);
  explicit JsonBody(nlohmann::json value) : json_(std::move(value)) {}

  bool has(const std::string& name) const;
  std::optional<std::string> string(const std::string& name, size_t max_length = 20000) const;
  std::string required_string(const std::string& name, size_t max_length = 20000) const;
  // Whole numbers only (2.0 is accepted as 2), within [min, max].
  std::optional<int64_t> integer(const std::string& name, int64_t min, int64_t max) const;
  std::optional<double> number(const std::string& name, double min, double max) const;
  std::optional<bool> boolean(const std::string& name) const;
  const nlohmann::json* object(const std::string& name) const;
  const nlohmann::json& json() const { return json_; }

 private:
  const nlohmann::json* field(const std::string& name) const;
  nlohmann::json json_;
};

}  // namespace dd::http
