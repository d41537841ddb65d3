#include "http/request_fields.h"

#include <cmath>
#include <limits>

#include "http/api_error.h"
#include "io/image_codec.h"

namespace dd::http {

namespace {

using namespace field_limits;

std::optional<std::string> read_string(const JsonBody& body, const Field& field);
std::optional<int64_t> read_integer(const JsonBody& body, const Field& field);
std::optional<std::array<int, 2>> read_pair(const JsonBody& body, const Field& field);

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};

size_t max_length(const Field& field) {
  if (field.max < 0) return std::numeric_limits<size_t>::max();  // the body's limit applies
  return field.max > 0 ? static_cast<size_t>(field.max) : pipeline::limits::kMaxPromptLength;
}

// A row the dialect's handler reads itself is still checked against its type and range here.
void check_only(const JsonBody& body, const Field& field) {
  switch (field.type) {
    case FieldType::String:
      read_string(body, field);
      break;
    case FieldType::Integer:
      read_integer(body, field);
      break;
    case FieldType::Number:
      body.number(field.name, field.min, field.max);
      break;
    case FieldType::Boolean:
      body.boolean(field.name);
      break;
    case FieldType::Object:
      body.object(field.name);
      break;
    case FieldType::Pair:
      read_pair(body, field);
      break;
    case FieldType::File:
      break;
    case FieldType::Array:
      if (body.has(field.name) && !body.json().at(field.name).is_array())
        throw bad_parameter(field.name, field.name + " must be an array");
      break;
  }
}

std::optional<std::string> read_string(const JsonBody& body, const Field& field) {
  auto value = body.string(field.name, max_length(field));
  if (field.required && (!value || value->empty()))
    throw bad_parameter(field.name, field.name + " is required");
  if (value && field.canonical) {
    try {
      value = field.canonical(*value);
    } catch (const Error& e) {
      throw bad_parameter(field.name, e.what());
    }
  }
  return value;
}

std::optional<int64_t> read_integer(const JsonBody& body, const Field& field) {
  const auto min = static_cast<int64_t>(field.min), max = static_cast<int64_t>(field.max);
  const auto value = body.integer(field.name, min, max);
  if (value && field.multiple_of > 0 && *value % field.multiple_of != 0)
    throw bad_parameter(field.name, field.name + " must be a multiple of " +
                                        std::to_string(field.multiple_of) + " between " +
                                        std::to_string(min) + " and " + std::to_string(max));
  return value;
}

std::optional<std::array<int, 2>> read_pair(const JsonBody& body, const Field& field) {
  if (!body.has(field.name)) return std::nullopt;
  const auto& value = body.json().at(field.name);
  auto in_range = [&](const nlohmann::json& v) {
    return v.is_number_integer() && v.get<int64_t>() >= field.min && v.get<int64_t>() <= field.max;
  };
  if (!value.is_array() || value.size() != 2 || !in_range(value[0]) || !in_range(value[1]))
    throw bad_parameter(field.name, field.name + " must be two whole numbers between " +
                                        std::to_string(static_cast<int64_t>(field.min)) + " and " +
                                        std::to_string(static_cast<int64_t>(field.max)));
  return std::array<int, 2>{value[0].get<int>(), value[1].get<int>()};
}

void read_field(const JsonBody& body, const Field& field, service::JobSpec& spec) {
  auto with_default = [&](auto member, auto value) {
    using T = typename std::remove_reference_t<decltype(spec.params.*member)>::value_type;
    if (value) spec.params.*member = static_cast<T>(*value);
    if (field.dialect_default)
      spec.dialect_defaults.*member = static_cast<T>(*field.dialect_default);
  };
  std::visit(Overloaded{
                 [&](std::monostate) { check_only(body, field); },
                 [&](std::optional<std::string> Params::*member) {
                   if (auto value = read_string(body, field))
                     spec.params.*member = std::move(*value);
                 },
                 [&](std::optional<int> Params::*member) {
                   with_default(member, read_integer(body, field));
                 },
                 [&](std::optional<int64_t> Params::*member) {
                   with_default(member, read_integer(body, field));
                 },
                 [&](std::optional<double> Params::*member) {
                   with_default(member, body.number(field.name, field.min, field.max));
                 },
                 [&](std::optional<bool> Params::*member) {
                   if (auto value = body.boolean(field.name)) spec.params.*member = *value;
                 },
                 [&](MicroTarget target) {
                   if (auto value = read_pair(body, field))
                     (spec.params.*target.group).*target.member = value;
                 },
                 [&](std::string service::JobSpec::*member) {
                   if (auto value = read_string(body, field)) spec.*member = std::move(*value);
                 },
             },
             field.target);
}

// A form part's text as the JSON value the row's type reads.
nlohmann::json form_value(const Field& field, const std::string& text) {
  if (field.type == FieldType::String) return text;
  const auto value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded())
    throw bad_parameter(field.name,
                        field.name + " must be " +
                            (field.type == FieldType::Boolean ? "true or false" : "a number"));
  return value;
}

nlohmann::json property(const Field& field) {
  nlohmann::json out;
  switch (field.type) {
    case FieldType::File:
      out = {{"type", "string"}, {"format", "binary"}};
      break;
    case FieldType::Pair:
      out = {{"type", "array"},
             {"items", {{"type", "integer"}, {"minimum", field.min}, {"maximum", field.max}}},
             {"minItems", 2},
             {"maxItems", 2}};
      break;
    case FieldType::String:
      out = {{"type", "string"}};
      if (field.max >= 0) out["maxLength"] = max_length(field);
      break;
    case FieldType::Integer:
    case FieldType::Number:
      out = {{"type", field.type == FieldType::Integer ? "integer" : "number"},
             {"minimum", field.min},
             {"maximum", field.max}};
      if (field.multiple_of > 0) out["multipleOf"] = field.multiple_of;
      break;
    case FieldType::Boolean:
      out = {{"type", "boolean"}};
      break;
    case FieldType::Object:
      out = {{"type", "object"}};
      break;
    case FieldType::Array:
      out = {{"type", "array"}};
      break;
  }
  out["description"] = field.doc;
  if (field.dialect_default) out["default"] = *field.dialect_default;
  return out;
}

}  // namespace

Field prompt_field(const char* name, bool required, int max_length) {
  return {.name = name,
          .type = FieldType::String,
          .target = &Params::prompt,
          .doc = "What to draw; A1111 (word:1.2) weights are understood",
          .max = static_cast<double>(max_length),
          .required = required};
}

Field side_field(const char* name) {
  return {.name = name,
          .type = FieldType::Integer,
          .target = std::string_view(name) == "height" ? &Params::height : &Params::width,
          .doc = "Pixels, a multiple of 8 (default: the model's native size)",
          .min = kMinSide,
          .max = kMaxSide,
          .multiple_of = 8};
}

Field negative_prompt_field(const char* name) {
  return {.name = name,
          .type = FieldType::String,
          .target = &Params::negative_prompt,
          .doc = "What to avoid",
          .max = kMaxPrompt};
}

Field steps_field(const char* name, int max, std::optional<double> dialect_default) {
  return {.name = name,
          .type = FieldType::Integer,
          .target = &Params::steps,
          .doc = dialect_default ? "Sampling steps (default: the model's, else this dialect's)"
                                 : "Sampling steps (default: the model's)",
          .min = 1,
          .max = static_cast<double>(max),
          .dialect_default = dialect_default};
}

Field cfg_field(const char* name, double min, double max) {
  return {.name = name,
          .type = FieldType::Number,
          .target = &Params::cfg,
          .doc = "Classifier-free guidance scale (default: the model's; <= 1 turns it off)",
          .min = min,
          .max = max};
}

Field strength_field(const char* name) {
  return {.name = name,
          .type = FieldType::Number,
          .target = &Params::strength,
          .doc = "img2img: how much of the image to repaint, (0, 1]",
          .min = 0.01,
          .max = 1};
}

Field seed_field(const char* name) {
  return {.name = name,
          .type = FieldType::Integer,
          .target = &Params::seed,
          .doc = "Seed; -1 or absent = random. Image i uses seed + i",
          .min = -1,
          .max = static_cast<double>(pipeline::limits::kMaxSeed)};
}

Field clip_skip_field(const char* name) {
  return {.name = name,
          .type = FieldType::Integer,
          .target = &Params::clip_skip,
          .doc = "CLIP layers to skip: 1 = the last layer (default), 2 = the penultimate",
          .min = 1,
          .max = pipeline::limits::kMaxClipSkip};
}

Field samples_field(const char* name) {
  return {.name = name,
          .type = FieldType::Integer,
          .target = &Params::samples,
          .doc = "Images to make (default 1)",
          .min = 1,
          .max = pipeline::limits::kMaxSamples};
}

Field sampler_field(const char* name) {
  return {.name = name,
          .type = FieldType::String,
          .target = &Params::sampler,
          .doc = "Sampler, as GET /samplers names it (default: the model's)",
          .max = kMaxSamplerName};
}

Field model_field(const char* name) {
  return {.name = name,
          .type = FieldType::String,
          .target = &service::JobSpec::model,
          .doc = "Model id or alias (default: the server's default model)",
          .max = kMaxModelName};
}

Field format_field(const char* name) {
  return {.name = name,
          .type = FieldType::String,
          .target = &service::JobSpec::format,
          .doc = "png (default), jpeg or webp",
          .max = 20,
          .canonical = [](const std::string& text) {
            return io::canonical_image_format(text, "format");
          }};
}

void add_micro_fields(Fields& fields, FieldCase field_case) {
  const bool camel = field_case == FieldCase::Camel;
  using pipeline::MicroConditioning;
  struct Row {
    const char *snake, *camel;
    std::optional<std::array<int, 2>> MicroConditioning::*member;
    int min;
    const char* doc;
  };
  const Row rows[] = {
      {"original_size", "originalSize", &MicroConditioning::original_size, 1,
       "SDXL: [height, width] of the picture the model imagines (default: the output size)"},
      {"crops_coords_top_left", "cropsCoordsTopLeft", &MicroConditioning::crop_top_left, 0,
       "SDXL: [top, left] crop offset to condition on (default: [0, 0])"},
      {"target_size", "targetSize", &MicroConditioning::target_size, 1,
       "SDXL: [height, width] target size (default: the output size)"},
  };
  // Sizes up to 4x the largest output (conditioning on a "bigger original" is the usual use).
  constexpr double kMaxPixels = 4 * kMaxSide;
  for (const bool negative : {false, true})
    for (const auto& row : rows) {
      std::string name = camel ? row.camel : row.snake;
      if (negative)
        name = camel ? "negative" + std::string(1, static_cast<char>(std::toupper(name[0]))) +
                           name.substr(1)
                     : "negative_" + name;
      fields.push_back(
          {.name = name,
           .type = FieldType::Pair,
           .target = MicroTarget{negative ? &Params::negative_micro : &Params::micro, row.member},
           .doc = negative ? "SDXL: the same for the negative prompt (default: the "
                             "positive one)"
                           : row.doc,
           .min = static_cast<double>(row.min),
           .max = kMaxPixels});
    }
}

void add_flux_fields(Fields& fields, FieldCase field_case) {
  const bool camel = field_case == FieldCase::Camel;
  fields.push_back({.name = "guidance",
                    .type = FieldType::Number,
                    .target = &Params::guidance,
                    .doc = "FLUX dev/Fill: distilled guidance, an input of the model rather than "
                           "a second pass (default: the model's, 3.5 for dev; schnell has none)",
                    .min = 0,
                    .max = pipeline::limits::kMaxGuidance});
  fields.push_back({.name = camel ? "trueCfg" : "true_cfg",
                    .type = FieldType::Number,
                    .target = &Params::true_cfg,
                    .doc = "FLUX: > 1 runs a real classifier-free guidance pass with the "
                           "negative prompt, at twice the cost (default 1: off)",
                    .min = 1,
                    .max = pipeline::limits::kMaxTrueCfg});
  fields.push_back({.name = camel ? "maxSequenceLength" : "max_sequence_length",
                    .type = FieldType::Integer,
                    .target = &Params::max_sequence_length,
                    .doc = "FLUX: T5 tokens the prompt is padded or cut to (default: the "
                           "model's, 256 for schnell, 512 for dev)",
                    .min = 1,
                    .max = pipeline::limits::kMaxSequenceLength});
}

void read_fields(const JsonBody& body, const Fields& fields, service::JobSpec& spec) {
  for (const auto& field : fields) read_field(body, field, spec);
}

void read_form_fields(const httplib::Request& request, const Fields& fields,
                      service::JobSpec& spec) {
  nlohmann::json values = nlohmann::json::object();
  for (const auto& field : fields) {
    if (field.type == FieldType::File || !request.has_file(field.name.c_str())) continue;
    const auto part = request.get_file_value(field.name.c_str());
    if (!part.filename.empty())
      throw bad_parameter(field.name, field.name + " must be a text field, not a file");
    if (part.content.size() > max_length(field))
      throw bad_parameter(field.name, field.name + " is longer than " +
                                          std::to_string(max_length(field)) + " characters");
    values[field.name] = form_value(field, part.content);
  }
  read_fields(JsonBody(std::move(values)), fields, spec);
}

nlohmann::json openapi_request_body(const Fields& fields) {
  nlohmann::json properties = nlohmann::json::object();
  nlohmann::json required = nlohmann::json::array();
  bool multipart = false;
  for (const auto& field : fields) {
    properties[field.name] = property(field);
    if (field.required) required.push_back(field.name);
    multipart = multipart || field.type == FieldType::File;
  }
  nlohmann::json schema = {{"type", "object"}, {"properties", properties}};
  if (!required.empty()) schema["required"] = required;
  const char* media = multipart ? "multipart/form-data" : "application/json";
  return {{"required", true}, {"content", {{media, {{"schema", schema}}}}}};
}

}  // namespace dd::http
