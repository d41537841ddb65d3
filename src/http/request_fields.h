#pragma once
// A dialect's request fields, declared once: each row names the field as the dialect spells it,
// its type and range, what it sets (a GenerationParams member, a JobSpec member, or nothing
// when the dialect's handler reads it itself), its doc line, and a default where the dialect's
// seed document fixes one. The same rows parse the request and describe it in /openapi.json.
#include <httplib.h>

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "http/json_body.h"
#include "pipeline/generation_params.h"
#include "pipeline/limits.h"
#include "service/job.h"

namespace dd::http {

// Limits the dialects share (the engine's own are in pipeline/limits.h).
namespace field_limits {
inline constexpr int kMinSide = 64;  // API.md: sides are multiples of 8 within 64..1024
inline constexpr int kMaxSide = 1024;
inline constexpr int kMaxModelName = 200;
inline constexpr int kMaxSamplerName = 100;
inline constexpr int kMaxPrompt = static_cast<int>(pipeline::limits::kMaxPromptLength);
}  // namespace field_limits

enum class FieldType { String, Integer, Number, Boolean, Pair, Object, File, Array };

using Params = pipeline::GenerationParams;
// An SDXL micro-conditioning pair: which group (positive or negative) and which member.
struct MicroTarget {
  pipeline::MicroConditioning Params::*group;
  std::optional<std::array<int, 2>> pipeline::MicroConditioning::*member;
};
using FieldTarget =
    std::variant<std::monostate,  // read by the dialect's handler
                 std::optional<std::string> Params::*, std::optional<int> Params::*,
                 std::optional<int64_t> Params::*, std::optional<double> Params::*,
                 std::optional<bool> Params::*, MicroTarget, std::string service::JobSpec::*>;

struct Field {
  std::string name;
  FieldType type;
  FieldTarget target;
  const char* doc;
  double min = 0;  // numbers: the range; strings: max is the longest length (0 = 20000)
  double max = 0;  // < 0 for strings: no limit of their own (the body's applies)
  bool required = false;
  int multiple_of = 0;
  std::optional<double> dialect_default =
      std::nullopt;  // its seed document's default, below the model's
  // Strings: the canonical spelling (e.g. "JPG" -> "jpeg"); a dd::Error for a bad value.
  std::string (*canonical)(const std::string&) = nullptr;
};

using Fields = std::vector<Field>;

// Rows several dialects share, under the dialect's own names.
Field prompt_field(const char* name, bool required = true,
                   int max_length = field_limits::kMaxPrompt);
Field side_field(const char* name);
Field negative_prompt_field(const char* name);
Field seed_field(const char* name);
Field steps_field(const char* name, int max, std::optional<double> dialect_default = {});
Field cfg_field(const char* name, double min, double max);
Field strength_field(const char* name);
Field clip_skip_field(const char* name);
Field samples_field(const char* name);
Field sampler_field(const char* name);
Field model_field(const char* name);
Field format_field(const char* name);
enum class FieldCase { Snake, Camel };
// SDXL micro-conditioning: original_size, crops_coords_top_left, target_size and negative_*.
void add_micro_fields(Fields& fields, FieldCase field_case);

// FLUX: guidance, true_cfg and max_sequence_length (camel case: trueCfg, maxSequenceLength).
void add_flux_fields(Fields& fields, FieldCase field_case);

// Every row with a target: its value from the body (checked against the row) into `spec`, and
// its dialect default into spec.dialect_defaults. A bad value is a 400 naming the field.
void read_fields(const JsonBody& body, const Fields& fields, service::JobSpec& spec);
// The same from a multipart form's text parts (numbers as their decimal text).
void read_form_fields(const httplib::Request& request, const Fields& fields,
                      service::JobSpec& spec);
// The OpenAPI request body of these rows: JSON, or multipart/form-data when a row is a file.
nlohmann::json openapi_request_body(const Fields& fields);

}  // namespace dd::http
