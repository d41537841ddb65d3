#pragma once
// Hyperparameters of a T5 v1.1 encoder (transformers' T5EncoderModel), the text encoder FLUX
// conditions on. Real checkpoints store none: they come from a diffusers folder's
// text_encoder_2/config.json, or are the T5-XXL defaults below for single files.
#include <nlohmann/json.hpp>

namespace dd::models {

// Defaults: google/t5-v1_1-xxl, the encoder of FLUX.1 and SD3.
struct T5Config {
  int vocab_size = 32128;
  int d_model = 4096;
  int d_kv = 64;  // per head; num_heads * d_kv need not equal d_model
  int d_ff = 10240;
  int num_layers = 24;
  int num_heads = 64;
  int relative_attention_num_buckets = 32;
  int relative_attention_max_distance = 128;
  double layer_norm_epsilon = 1e-6;

  int inner_dim() const { return num_heads * d_kv; }
};

// A dd::Error naming the field when a value cannot describe an encoder.
void check_t5_config(const T5Config& config);

// From transformers' config.json. Only T5 v1.1's gated-gelu feed-forward is supported
// (`feed_forward_proj` "gated-gelu"); the original T5's "relu" or another one is a dd::Error.
T5Config t5_config_from_transformers(const nlohmann::json& config);

}  // namespace dd::models
