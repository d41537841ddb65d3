#include "http/json_body.h"

#include <cmath>

#include "http/api_error.h"

namespace dd::http {

namespace {

std::string range_text(double min, double max) {
  auto text = [](double v) {
    std::string s = std::to_string(v);
    s.erase(s.find_last_not_of('0') + 1);
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  };
  return "between " + text(min) + " and " + text(max);
}

}  // namespace

JsonBody::JsonBody(const std::string& body) {
  // Bounds on what a body may make of memory: nesting depth and the number of values (a base64
  // image is one value); the parse stops at the first value past either.
  struct TooComplex {
    std::string what;
  };
  size_t values = 0;
  const auto limit = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
    using Event = nlohmann::json::parse_event_t;
    if (depth > kMaxDepth) throw TooComplex{"nested deeper than " + std::to_string(kMaxDepth)};
    if ((event == Event::value || event == Event::object_start || event == Event::array_start) &&
        ++values > kMaxValues)
      throw TooComplex{"more than " + std::to_string(kMaxValues) + " values"};
    return true;
  };
  try {
    json_ = nlohmann::json::parse(body, limit, /*allow_exceptions=*/false);
  } catch (const TooComplex& e) {
    throw ApiError(400, "invalid_json", "the request body is too complex: " + e.what);
  }
  if (json_.is_discarded())
    throw ApiError(400, "invalid_json", "the request body is not valid JSON");
  if (!json_.is_object())
    throw ApiError(400, "invalid_json", "the request body must be a JSON object");
}

const nlohmann::json* JsonBody::field(const std::string& name) const {
  auto it = json_.find(name);
  if (it == json_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool JsonBody::has(const std::string& name) const { return field(name) != nullptr; }

std::optional<std::string> JsonBody::string(const std::string& name, size_t max_length) const {
  const auto* value = field(name);
  if (!value) return std::nullopt;
  if (!value->is_string()) throw bad_parameter(name, name + " must be a string");
  const auto& text = value->get_ref<const std::string&>();
  if (text.size() > max_length)
    throw bad_parameter(name,
                        name + " is longer than " + std::to_string(max_length) + " characters");
  return text;
}

std::string JsonBody::required_string(const std::string& name, size_t max_length) const {
  auto value = string(name, max_length);
  if (!value || value->empty()) throw bad_parameter(name, name + " is required");
  return *value;
}

std::optional<int64_t> JsonBody::integer(const std::string& name, int64_t min, int64_t max) const {
  const auto* value = field(name);
  if (!value) return std::nullopt;
  const std::string message = name + " must be a whole number " +
                              range_text(static_cast<double>(min), static_cast<double>(max));
  if (!value->is_number()) throw bad_parameter(name, message);
  const double number = value->get<double>();
  if (!std::isfinite(number) || std::floor(number) != number || number < static_cast<double>(min) ||
      number > static_cast<double>(max))
    throw bad_parameter(name, message);
  return value->is_number_integer() ? value->get<int64_t>() : static_cast<int64_t>(number);
}

std::optional<double> JsonBody::number(const std::string& name, double min, double max) const {
  const auto* value = field(name);
  if (!value) return std::nullopt;
  const std::string message = name + " must be a number " + range_text(min, max);
  if (!value->is_number()) throw bad_parameter(name, message);
  const double number = value->get<double>();
  if (!std::isfinite(number) || number < min || number > max) throw bad_parameter(name, message);
  return number;
}

std::optional<bool> JsonBody::boolean(const std::string& name) const {
  const auto* value = field(name);
  if (!value) return std::nullopt;
  if (!value->is_boolean()) throw bad_parameter(name, name + " must be true or false");
  return value->get<bool>();
}

const nlohmann::json* JsonBody::object(const std::string& name) const {
  const auto* value = field(name);
  if (value && !value->is_object()) throw bad_parameter(name, name + " must be an object");
  return value;
}

}  // namespace dd::http
