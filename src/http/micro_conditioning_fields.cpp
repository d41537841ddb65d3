#include "http/micro_conditioning_fields.h"

#include "http/api_error.h"

namespace dd::http {

namespace {

// Sizes up to 4x the largest output (conditioning on a "bigger original" is the usual use).
constexpr int64_t kMaxPixels = 4096;

std::optional<std::array<int, 2>> pair_field(const JsonBody& body, const std::string& name,
                                             int64_t min) {
  if (!body.has(name)) return std::nullopt;
  const auto& value = body.json().at(name);
  auto in_range = [&](const nlohmann::json& v) {
    return v.is_number_integer() && v.get<int64_t>() >= min && v.get<int64_t>() <= kMaxPixels;
  };
  if (!value.is_array() || value.size() != 2 || !in_range(value[0]) || !in_range(value[1]))
    throw bad_parameter(name, name + " must be two whole numbers between " + std::to_string(min) +
                                  " and " + std::to_string(kMaxPixels));
  return std::array<int, 2>{value[0].get<int>(), value[1].get<int>()};
}

pipeline::MicroConditioning read(const JsonBody& body, const std::string& original,
                                 const std::string& crop, const std::string& target) {
  return {pair_field(body, original, 1), pair_field(body, crop, 0), pair_field(body, target, 1)};
}

}  // namespace

void read_micro_conditioning(const JsonBody& body, FieldCase field_case, service::JobSpec& spec) {
  if (field_case == FieldCase::Camel) {
    spec.micro = read(body, "originalSize", "cropsCoordsTopLeft", "targetSize");
    spec.negative_micro =
        read(body, "negativeOriginalSize", "negativeCropsCoordsTopLeft", "negativeTargetSize");
  } else {
    spec.micro = read(body, "original_size", "crops_coords_top_left", "target_size");
    spec.negative_micro = read(body, "negative_original_size", "negative_crops_coords_top_left",
                               "negative_target_size");
  }
}

}  // namespace dd::http
