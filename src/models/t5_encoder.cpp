#include "models/t5_encoder.h"

#include <cmath>
#include <string>

#include "models/build_dtype.h"
#include "models/packed_linear.h"
#include "util/error.h"

namespace dd::models {

namespace {

// A module that only groups children under a name (`encoder`, `DenseReluDense`), so the
// parameter names match transformers' without a class per grouping.
std::shared_ptr<torch::nn::Module> group() { return std::make_shared<torch::nn::Module>(); }

PackedLinear projection(int64_t in, int64_t out) { return PackedLinear(in, out, /*bias=*/false); }

// Rows `ids` of a table kept in any float dtype, as float32 [ids..., dim]. Only the rows are
// upcast, not the table (T5-XXL's is 32128 x 4096). 8-bit float rows are gathered as bytes,
// since not every device's gather kernel takes float8.
torch::Tensor lookup_rows(const torch::Tensor& table, const torch::Tensor& ids) {
  const auto flat = ids.reshape({-1});
  torch::Tensor rows;
  if (table.element_size() == 1 && table.is_floating_point())
    rows = table.view(torch::kByte).index_select(0, flat).view(table.scalar_type());
  else
    rows = table.index_select(0, flat);
  auto shape = ids.sizes().vec();
  shape.push_back(table.size(1));
  return rows.to(torch::kFloat32).view(shape);
}

class T5AttentionImpl : public torch::nn::Module {
 public:
  T5AttentionImpl(const T5Config& c, bool has_relative_bias)
      : config_(c),
        q_(register_module("q", projection(c.d_model, c.inner_dim()))),
        k_(register_module("k", projection(c.d_model, c.inner_dim()))),
        v_(register_module("v", projection(c.d_model, c.inner_dim()))),
        o_(register_module("o", projection(c.inner_dim(), c.d_model))) {
    if (has_relative_bias)
      relative_bias_ =
          register_module("relative_attention_bias", group())
              ->register_parameter("weight",
                                   torch::zeros({c.relative_attention_num_buckets, c.num_heads}));
  }

  // x [B, L, d_model] in the compute dtype; bias [1, heads, L, L] float32.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& bias) {
    const auto batch = x.size(0), length = x.size(1);
    auto split_heads = [&](const torch::Tensor& t) {
      return t.view({batch, length, config_.num_heads, config_.d_kv}).transpose(1, 2);
    };
    const auto q = split_heads(q_(x)), k = split_heads(k_(x)), v = split_heads(v_(x));
    // No 1/sqrt(d_kv): T5 folds that scale into its weights' initialisation. The scores go to
    // float32 for the bias and the softmax, as transformers does.
    const auto scores = torch::matmul(q, k.transpose(-1, -2)).to(torch::kFloat32) + bias;
    const auto probs = torch::softmax(scores, -1).to(x.scalar_type());
    const auto out = torch::matmul(probs, v).transpose(1, 2).reshape({batch, length, -1});
    return o_(out);
  }

  // [1, heads, L, L] float32: bias[h][i][j] = table[bucket(j - i)][h].
  torch::Tensor compute_bias(int64_t length, const torch::Device& device) const {
    if (!relative_bias_.defined())
      throw Error("T5 encoder: only layer 0 holds the relative attention bias");
    const auto positions = torch::arange(length, torch::dtype(torch::kLong).device(device));
    const auto relative = positions.unsqueeze(0) - positions.unsqueeze(1);  // key - query
    const auto buckets = t5_relative_position_bucket(relative, /*bidirectional=*/true,
                                                     config_.relative_attention_num_buckets,
                                                     config_.relative_attention_max_distance);
    return lookup_rows(relative_bias_, buckets).permute({2, 0, 1}).unsqueeze(0);
  }

 private:
  T5Config config_;
  PackedLinear q_, k_, v_, o_;
  torch::Tensor relative_bias_;
};
TORCH_MODULE(T5Attention);

// `layer.0`: RMS norm, self-attention, residual.
class T5SelfAttentionLayerImpl : public torch::nn::Module {
 public:
  T5SelfAttentionLayerImpl(const T5Config& c, bool has_relative_bias)
      : attention_(register_module("SelfAttention", T5Attention(c, has_relative_bias))),
        norm_(register_module("layer_norm", T5LayerNorm(c.d_model, c.layer_norm_epsilon))) {}

  torch::Tensor forward(const torch::Tensor& h, const torch::Tensor& bias,
                        torch::ScalarType dtype) {
    return h + attention_(norm_(h).to(dtype), bias).to(torch::kFloat32);
  }

  T5Attention& attention() { return attention_; }

 private:
  T5Attention attention_;
  T5LayerNorm norm_;
};
TORCH_MODULE(T5SelfAttentionLayer);

// `layer.1`: RMS norm, wo(gelu_tanh(wi_0 x) * wi_1 x), residual.
class T5FeedForwardLayerImpl : public torch::nn::Module {
 public:
  explicit T5FeedForwardLayerImpl(const T5Config& c)
      : norm_(register_module("layer_norm", T5LayerNorm(c.d_model, c.layer_norm_epsilon))) {
    auto dense = register_module("DenseReluDense", group());
    wi_0_ = dense->register_module("wi_0", projection(c.d_model, c.d_ff));
    wi_1_ = dense->register_module("wi_1", projection(c.d_model, c.d_ff));
    wo_ = dense->register_module("wo", projection(c.d_ff, c.d_model));
  }

  torch::Tensor forward(const torch::Tensor& h, torch::ScalarType dtype) {
    const auto x = norm_(h).to(dtype);
    // transformers' "gelu_new" for "gated-gelu": the tanh approximation.
    const auto gated = torch::gelu(wi_0_(x), "tanh") * wi_1_(x);
    return h + wo_(gated).to(torch::kFloat32);
  }

 private:
  T5LayerNorm norm_;
  PackedLinear wi_0_{nullptr}, wi_1_{nullptr}, wo_{nullptr};
};
TORCH_MODULE(T5FeedForwardLayer);

class T5BlockImpl : public torch::nn::Module {
 public:
  T5BlockImpl(const T5Config& c, bool has_relative_bias)
      : attention_(T5SelfAttentionLayer(c, has_relative_bias)), feed_forward_(c) {
    auto layers = register_module("layer", torch::nn::ModuleList());
    layers->push_back(attention_);
    layers->push_back(feed_forward_);
  }

  // h [B, L, d_model] float32 -> the same.
  torch::Tensor forward(const torch::Tensor& h, const torch::Tensor& bias,
                        torch::ScalarType dtype) {
    return feed_forward_(attention_(h, bias, dtype), dtype);
  }

  T5SelfAttentionLayer& attention() { return attention_; }

 private:
  T5SelfAttentionLayer attention_;
  T5FeedForwardLayer feed_forward_;
};
TORCH_MODULE(T5Block);

void check_ids(const torch::Tensor& ids, const T5Config& config) {
  if (ids.dim() != 2 || ids.size(0) < 1 || ids.size(1) < 1)
    throw Error("T5 encoder: input_ids must be [B, L] with B, L >= 1, got " +
                c10::str(ids.sizes()));
  if (ids.scalar_type() != torch::kLong)
    throw Error("T5 encoder: input_ids must be int64, got " +
                std::string(c10::toString(ids.scalar_type())));
  const auto low = ids.min().item<int64_t>(), high = ids.max().item<int64_t>();
  if (low < 0 || high >= config.vocab_size)
    throw Error("T5 encoder: token id " + std::to_string(low < 0 ? low : high) + " outside [0, " +
                std::to_string(config.vocab_size) + ")");
}

}  // namespace

torch::Tensor t5_relative_position_bucket(const torch::Tensor& relative_position,
                                          bool bidirectional, int num_buckets, int max_distance) {
  if (relative_position.is_floating_point() || relative_position.is_complex())
    throw Error("T5 relative position bucket: positions must be integers");
  auto position = relative_position.to(torch::kLong);
  auto buckets = torch::zeros_like(position);
  if (bidirectional) {
    num_buckets /= 2;
    buckets = buckets + (position > 0).to(torch::kLong) * num_buckets;
    position = position.abs();
  } else {
    position = -torch::clamp_max(position, 0);
  }
  const int max_exact = num_buckets / 2;
  if (max_exact < 1 || max_distance <= max_exact)
    throw Error("T5 relative position bucket: " + std::to_string(num_buckets) +
                " buckets per direction and max distance " + std::to_string(max_distance) +
                " leave no log-spaced range");
  // The same float32 operations as transformers, so that the buckets match exactly at the
  // boundaries (the distance 0 gives log 0 = -inf, but is_small selects it away).
  const auto log_ratio = torch::log(position.to(torch::kFloat32) / max_exact) /
                         std::log(static_cast<double>(max_distance) / max_exact) *
                         (num_buckets - max_exact);
  const auto large = torch::clamp_max(max_exact + log_ratio.to(torch::kLong), num_buckets - 1);
  return buckets + torch::where(position < max_exact, position, large);
}

T5LayerNormImpl::T5LayerNormImpl(int64_t dim, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor T5LayerNormImpl::forward(const torch::Tensor& x) {
  const auto x32 = x.to(torch::kFloat32);
  const auto variance = x32.pow(2).mean(-1, /*keepdim=*/true);
  return weight.to(torch::kFloat32) * (x32 * torch::rsqrt(variance + eps_));
}

T5EncoderImpl::T5EncoderImpl(const T5Config& config) : config_(config) {
  check_t5_config(config_);
  // A bare parameter, not nn::Embedding: its float32 random initialisation of T5-XXL's table
  // would be half a gigabyte thrown away by the load.
  shared_ = register_module("shared", group())
                ->register_parameter(
                    "weight", torch::empty({config_.vocab_size, config_.d_model}, build_dtype()));
  auto encoder = register_module("encoder", group());
  blocks_ = encoder->register_module("block", torch::nn::ModuleList());
  for (int i = 0; i < config_.num_layers; ++i) blocks_->push_back(built(T5Block(config_, i == 0)));
  final_layer_norm_ = encoder->register_module(
      "final_layer_norm", T5LayerNorm(config_.d_model, config_.layer_norm_epsilon));
}

void T5EncoderImpl::set_compute_dtype(torch::ScalarType dtype) {
  if (dtype == torch::kHalf)
    throw Error("T5 encoder: float16 compute overflows T5 v1.1's activations; use bfloat16");
  if (dtype != torch::kFloat32 && dtype != torch::kBFloat16)
    throw Error("T5 encoder: compute dtype must be float32 or bfloat16, got " +
                std::string(c10::toString(dtype)));
  compute_dtype_ = dtype;
}

torch::Tensor T5EncoderImpl::position_bias(int64_t length) {
  if (length < 1)
    throw Error("T5 encoder: position bias for " + std::to_string(length) + " tokens");
  auto& attention = blocks_->ptr<T5BlockImpl>(0)->attention()->attention();
  return attention->compute_bias(length, shared_.device());
}

T5EncoderOutput T5EncoderImpl::forward(const torch::Tensor& input_ids, bool keep_hidden_states) {
  check_ids(input_ids, config_);
  // Ids usually come from the tokenizer on the CPU; the table may live on the GPU.
  const auto ids = input_ids.to(shared_.device());
  const auto bias = position_bias(ids.size(1));
  auto h = lookup_rows(shared_, ids);  // T5 does not scale its embeddings

  T5EncoderOutput out;
  for (const auto& block : *blocks_) {
    if (keep_hidden_states) out.hidden_states.push_back(h);
    h = block->as<T5BlockImpl>()->forward(h, bias, compute_dtype_);
  }
  out.last_hidden_state = final_layer_norm_(h);
  if (keep_hidden_states) out.hidden_states.push_back(out.last_hidden_state);
  return out;
}

}  // namespace dd::models
