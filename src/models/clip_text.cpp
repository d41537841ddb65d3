#include "models/clip_text.h"

#include <cmath>
#include <limits>

#include "models/build_dtype.h"
#include "util/error.h"

namespace dd::models {

namespace {

torch::nn::LayerNorm layer_norm(int hidden, double eps) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden}).eps(eps));
}

// The encoder computes in float32 whatever its weights are stored in: a checkpoint's float16,
// bfloat16 or float8 weights may be kept as stored (pipeline/model.cpp decides) and are
// upcast, exactly, as each layer uses them. For float32 weights .to() is a no-op, and gradients
// flow through it either way.
torch::Tensor float32(const torch::Tensor& t) { return t.defined() ? t.to(torch::kFloat32) : t; }

torch::Tensor in_float32(const torch::nn::Linear& layer, const torch::Tensor& x) {
  return torch::linear(x, float32(layer->weight), float32(layer->bias));
}

torch::Tensor in_float32(const torch::nn::LayerNorm& layer, const torch::Tensor& x) {
  const auto& options = layer->options;
  return torch::layer_norm(x, options.normalized_shape(), float32(layer->weight),
                           float32(layer->bias), options.eps());
}

torch::Tensor in_float32(const torch::nn::Embedding& table, const torch::Tensor& ids) {
  return float32(torch::embedding(table->weight, ids));  // the rows looked up, not the table
}

// A module that only groups children under a name (`embeddings`, `encoder`, `mlp`), so the
// parameter names match transformers' without a class per grouping.
std::shared_ptr<torch::nn::Module> group() { return std::make_shared<torch::nn::Module>(); }

// -inf above the diagonal: token i attends to tokens 0..i only.
torch::Tensor causal_mask(int64_t length, const torch::TensorOptions& options) {
  return torch::full({length, length}, -std::numeric_limits<float>::infinity(), options).triu(1);
}

void check_ids(const torch::Tensor& ids, const ClipTextConfig& config) {
  if (ids.dim() != 2 || ids.size(1) < 1 || ids.size(1) > config.max_positions)
    throw Error("text encoder: input_ids must be [B, S] with 1 <= S <= " +
                std::to_string(config.max_positions) + ", got " + c10::str(ids.sizes()));
  if (ids.scalar_type() != torch::kLong)
    throw Error("text encoder: input_ids must be int64, got " +
                std::string(c10::toString(ids.scalar_type())));
  if (ids.numel() > 0 &&
      (ids.min().item<int64_t>() < 0 || ids.max().item<int64_t>() >= config.vocab_size))
    throw Error("text encoder: token ids must be in [0, " + std::to_string(config.vocab_size) +
                ")");
}

}  // namespace

ClipAttentionImpl::ClipAttentionImpl(int hidden, int heads)
    : heads_(heads),
      q_proj_(register_module("q_proj", torch::nn::Linear(hidden, hidden))),
      k_proj_(register_module("k_proj", torch::nn::Linear(hidden, hidden))),
      v_proj_(register_module("v_proj", torch::nn::Linear(hidden, hidden))),
      out_proj_(register_module("out_proj", torch::nn::Linear(hidden, hidden))) {}

torch::Tensor ClipAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  const auto batch = x.size(0), length = x.size(1), hidden = x.size(2);
  const auto head_dim = hidden / heads_;
  // [B, S, H] -> [B, heads, S, head_dim]
  auto split_heads = [&](const torch::Tensor& t) {
    return t.view({batch, length, heads_, head_dim}).transpose(1, 2);
  };
  // Scaling q before the product (not the scores after) follows transformers, for closeness.
  auto q = split_heads(in_float32(q_proj_, x) * (1.0 / std::sqrt(static_cast<double>(head_dim))));
  auto k = split_heads(in_float32(k_proj_, x));
  auto v = split_heads(in_float32(v_proj_, x));
  auto probs = torch::softmax(torch::matmul(q, k.transpose(-1, -2)) + mask, -1);
  auto out = torch::matmul(probs, v).transpose(1, 2).reshape({batch, length, hidden});
  return in_float32(out_proj_, out);
}

ClipEncoderLayerImpl::ClipEncoderLayerImpl(const ClipTextConfig& c)
    : quick_gelu_(c.quick_gelu),
      self_attn_(register_module("self_attn", ClipAttention(c.hidden_size, c.num_heads))),
      layer_norm1_(register_module("layer_norm1", layer_norm(c.hidden_size, c.layer_norm_eps))),
      layer_norm2_(register_module("layer_norm2", layer_norm(c.hidden_size, c.layer_norm_eps))) {
  auto mlp = register_module("mlp", group());
  fc1_ = mlp->register_module("fc1", torch::nn::Linear(c.hidden_size, c.intermediate_size));
  fc2_ = mlp->register_module("fc2", torch::nn::Linear(c.intermediate_size, c.hidden_size));
}

torch::Tensor ClipEncoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  auto h = x + self_attn_(in_float32(layer_norm1_, x), mask);
  auto a = in_float32(fc1_, in_float32(layer_norm2_, h));
  // OpenAI's CLIP-L was trained with the sigmoid approximation, OpenCLIP models with erf GELU.
  a = quick_gelu_ ? a * torch::sigmoid(1.702 * a) : torch::gelu(a);
  return h + in_float32(fc2_, a);
}

ClipTextTransformerImpl::ClipTextTransformerImpl(const ClipTextConfig& c) : config_(c) {
  auto embeddings = register_module("embeddings", group());
  token_embedding_ = embeddings->register_module(
      "token_embedding", built(torch::nn::Embedding(c.vocab_size, c.hidden_size)));
  position_embedding_ = embeddings->register_module(
      "position_embedding", built(torch::nn::Embedding(c.max_positions, c.hidden_size)));
  auto encoder = register_module("encoder", group());
  layers_ = encoder->register_module("layers", torch::nn::ModuleList());
  for (int i = 0; i < c.num_layers; ++i) layers_->push_back(built(ClipEncoderLayer(c)));
  final_layer_norm_ =
      register_module("final_layer_norm", layer_norm(c.hidden_size, c.layer_norm_eps));
}

torch::Tensor ClipTextTransformerImpl::final_layer_norm(const torch::Tensor& x) {
  return in_float32(final_layer_norm_, x);
}

TextEncoderOutput ClipTextTransformerImpl::forward(const torch::Tensor& input_ids) {
  check_ids(input_ids, config_);
  const auto length = input_ids.size(1);
  const auto positions = torch::arange(length, input_ids.options());
  auto h = in_float32(token_embedding_, input_ids) + in_float32(position_embedding_, positions);
  const auto mask = causal_mask(length, h.options());

  TextEncoderOutput out;
  out.hidden_states.push_back(h);
  for (const auto& layer : *layers_) {
    h = layer->as<ClipEncoderLayer>()->forward(h, mask);
    out.hidden_states.push_back(h);
  }
  out.last_hidden_state = final_layer_norm(h);

  // Pool at the first EOS. A row without one (ids not from the tokenizer) falls back to the
  // largest id, which is what transformers does for configs with the legacy eos_token_id.
  const auto is_eos = (input_ids == config_.eos_id).to(torch::kInt);
  const auto position = torch::where(is_eos.amax(-1) > 0, is_eos.argmax(-1), input_ids.argmax(-1));
  const auto rows = torch::arange(input_ids.size(0), input_ids.options());
  out.pooled = out.last_hidden_state.index({rows, position});
  return out;
}

ClipTextModelImpl::ClipTextModelImpl(const ClipTextConfig& config) : config_(config) {
  if (config_.hidden_size <= 0 || config_.num_heads <= 0 ||
      config_.hidden_size % config_.num_heads != 0)
    throw Error("text encoder: hidden_size (" + std::to_string(config_.hidden_size) +
                ") must be a positive multiple of num_heads (" + std::to_string(config_.num_heads) +
                ")");
  text_model_ = register_module("text_model", ClipTextTransformer(config_));
  if (config_.projection_dim > 0)
    text_projection_ = register_module(
        "text_projection",
        torch::nn::Linear(
            torch::nn::LinearOptions(config_.hidden_size, config_.projection_dim).bias(false)));
}

TextEncoderOutput ClipTextModelImpl::forward(const torch::Tensor& input_ids) {
  auto out = text_model_(input_ids);
  if (text_projection_) out.text_embeds = in_float32(text_projection_, out.pooled);
  return out;
}

torch::Tensor ClipTextModelImpl::clip_skip(const TextEncoderOutput& output, int skip) {
  const int layers = static_cast<int>(output.hidden_states.size()) - 1;
  if (skip < 0 || skip >= layers)
    throw Error("text encoder: clip skip " + std::to_string(skip) + " outside [0, " +
                std::to_string(layers - 1) + "]");
  if (skip == 0) return output.last_hidden_state;
  return text_model_->final_layer_norm(output.hidden_states.at(layers - skip));
}

}  // namespace dd::models
