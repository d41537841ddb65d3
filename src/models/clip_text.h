#pragma once
// CLIP text encoder (transformers' CLIPTextModel / CLIPTextModelWithProjection), built from a
// ClipTextConfig: token + position embedding, pre-LN transformer layers with a causal mask, a
// final LayerNorm, and optionally a bias-free text projection of the pooled output. It computes
// in float32 whatever dtype its weights are kept in (a checkpoint's 8- or 16-bit weights may stay
// as stored).
#include <torch/torch.h>

#include <vector>

#include "models/config.h"

namespace dd::models {

struct TextEncoderOutput {
  torch::Tensor last_hidden_state;  // [B, S, H], after the final LayerNorm
  // num_layers + 1 entries of [B, S, H]: the embeddings, then each layer's output (no final LN).
  std::vector<torch::Tensor> hidden_states;
  torch::Tensor pooled;       // [B, H]: last_hidden_state at each row's first EOS token
  torch::Tensor text_embeds;  // [B, projection_dim] = pooled @ projection; undefined without one

  // hidden_states[-2], what SDXL conditions on (no final LayerNorm).
  const torch::Tensor& penultimate() const { return hidden_states.at(hidden_states.size() - 2); }
};

class ClipAttentionImpl : public torch::nn::Module {
 public:
  ClipAttentionImpl(int hidden, int heads);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);

 private:
  int heads_;
  torch::nn::Linear q_proj_{nullptr}, k_proj_{nullptr}, v_proj_{nullptr}, out_proj_{nullptr};
};
TORCH_MODULE(ClipAttention);

class ClipEncoderLayerImpl : public torch::nn::Module {
 public:
  explicit ClipEncoderLayerImpl(const ClipTextConfig& config);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);

 private:
  bool quick_gelu_;
  ClipAttention self_attn_{nullptr};
  torch::nn::LayerNorm layer_norm1_{nullptr}, layer_norm2_{nullptr};
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(ClipEncoderLayer);

// The `text_model` part: embeddings, encoder layers, final LayerNorm.
class ClipTextTransformerImpl : public torch::nn::Module {
 public:
  explicit ClipTextTransformerImpl(const ClipTextConfig& config);
  TextEncoderOutput forward(const torch::Tensor& input_ids);
  torch::Tensor final_layer_norm(const torch::Tensor& x);

 private:
  ClipTextConfig config_;
  torch::nn::Embedding token_embedding_{nullptr}, position_embedding_{nullptr};
  torch::nn::ModuleList layers_{nullptr};
  torch::nn::LayerNorm final_layer_norm_{nullptr};
};
TORCH_MODULE(ClipTextTransformer);

class ClipTextModelImpl : public torch::nn::Module {
 public:
  explicit ClipTextModelImpl(const ClipTextConfig& config);
  // input_ids: [B, S] int64 token ids, S <= max_positions. Bad ids or shapes are a dd::Error.
  TextEncoderOutput forward(const torch::Tensor& input_ids);

  // diffusers' `clip_skip` (A1111's "CLIP skip" minus one): 0 = last_hidden_state; k > 0 =
  // final_layer_norm(hidden_states[-(k + 1)]), i.e. the output k layers before the last.
  torch::Tensor clip_skip(const TextEncoderOutput& output, int skip);

  const ClipTextConfig& config() const { return config_; }

 private:
  ClipTextConfig config_;
  ClipTextTransformer text_model_{nullptr};
  torch::nn::Linear text_projection_{nullptr};
};
TORCH_MODULE(ClipTextModel);

}  // namespace dd::models
