#include "models/t5_config.h"

#include <string>

#include "models/json_fields.h"
#include "util/error.h"

namespace dd::models {

namespace {

template <typename T>
T required(const nlohmann::json& config, const char* key) {
  return json_field<T>(config, key, "T5 config");
}

template <typename T>
T optional(const nlohmann::json& config, const char* key, T fallback) {
  return json_field_or<T>(config, key, fallback, "T5 config");
}

void require_positive(int value, const char* name) {
  if (value <= 0)
    throw Error(std::string("T5 config: ") + name + " must be positive, got " +
                std::to_string(value));
}

}  // namespace

void check_t5_config(const T5Config& c) {
  require_positive(c.vocab_size, "vocab_size");
  require_positive(c.d_model, "d_model");
  require_positive(c.d_kv, "d_kv");
  require_positive(c.d_ff, "d_ff");
  require_positive(c.num_layers, "num_layers");
  require_positive(c.num_heads, "num_heads");
  // Bidirectional buckets: half per direction, half of those exact, the rest log-spaced from
  // there up to max_distance, which therefore has to lie beyond the exact ones.
  const int max_exact = c.relative_attention_num_buckets / 4;
  if (c.relative_attention_num_buckets % 2 != 0 || max_exact < 1)
    throw Error("T5 config: relative_attention_num_buckets must be even and at least 4, got " +
                std::to_string(c.relative_attention_num_buckets));
  if (c.relative_attention_max_distance <= max_exact)
    throw Error("T5 config: relative_attention_max_distance (" +
                std::to_string(c.relative_attention_max_distance) + ") must exceed " +
                std::to_string(max_exact));
  if (!(c.layer_norm_epsilon > 0)) throw Error("T5 config: layer_norm_epsilon must be positive");
}

T5Config t5_config_from_transformers(const nlohmann::json& config) {
  // transformers' default is "relu", the original T5's ungated ReLU feed-forward.
  const auto ff = optional<std::string>(config, "feed_forward_proj", "relu");
  if (ff != "gated-gelu")
    throw Error("T5 config: feed_forward_proj '" + ff +
                "' is not supported (only T5 v1.1's \"gated-gelu\", as FLUX and SD3 use)");
  T5Config c;
  c.vocab_size = required<int>(config, "vocab_size");
  c.d_model = required<int>(config, "d_model");
  c.d_kv = required<int>(config, "d_kv");
  c.d_ff = required<int>(config, "d_ff");
  c.num_layers = required<int>(config, "num_layers");
  c.num_heads = required<int>(config, "num_heads");
  c.relative_attention_num_buckets =
      optional(config, "relative_attention_num_buckets", c.relative_attention_num_buckets);
  c.relative_attention_max_distance =
      optional(config, "relative_attention_max_distance", c.relative_attention_max_distance);
  c.layer_norm_epsilon = optional(config, "layer_norm_epsilon", c.layer_norm_epsilon);
  check_t5_config(c);
  return c;
}

}  // namespace dd::models
