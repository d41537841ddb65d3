#include "models/vae.h"

#include "models/fresh_tensor_ops.h"
#include "util/error.h"

namespace dd::models {

namespace {

torch::nn::Conv2d conv3x3(int in, int out) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1));
}

torch::nn::Conv2d conv1x1(int in, int out) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1));
}

torch::nn::GroupNorm group_norm(int channels, const VaeConfig& config) {
  return torch::nn::GroupNorm(
      torch::nn::GroupNormOptions(config.norm_groups, channels).eps(config.norm_eps));
}

VaeNorm norm_of(const VaeConfig& config) { return {config.norm_groups, config.norm_eps}; }

void record(VaeTrace* trace, const std::string& name, const torch::Tensor& value) {
  if (trace) (*trace)[name] = value;
}

// Fails early with a message a person can act on, instead of a LibTorch shape error deep inside.
void check_input(const torch::Tensor& t, int64_t channels, const char* what) {
  if (t.dim() != 4 || t.size(1) != channels)
    throw Error(std::string("vae: ") + what + " must be [B, " + std::to_string(channels) +
                ", H, W], got " + c10::str(t.sizes()));
}

void check_config(const VaeConfig& c) {
  if (c.block_out_channels.empty()) throw Error("vae: block_out_channels is empty");
  for (int ch : c.block_out_channels)
    if (ch <= 0 || c.norm_groups <= 0 || ch % c.norm_groups != 0)
      throw Error("vae: block_out_channels (" + std::to_string(ch) +
                  ") must be a positive multiple of norm_num_groups (" +
                  std::to_string(c.norm_groups) + ")");
  if (c.layers_per_block < 1) throw Error("vae: layers_per_block must be at least 1");
}

}  // namespace

VaeEncoderImpl::VaeEncoderImpl(const VaeConfig& c) {
  const auto& ch = c.block_out_channels;
  const int levels = static_cast<int>(ch.size());
  conv_in_ = register_module("conv_in", conv3x3(c.in_channels, ch[0]));
  down_blocks_ = register_module("down_blocks", torch::nn::ModuleList());
  for (int i = 0; i < levels; ++i)
    down_blocks_->push_back(VaeDownBlock(i == 0 ? ch[0] : ch[i - 1], ch[i], c.layers_per_block,
                                         /*downsample=*/i + 1 < levels, norm_of(c)));
  mid_block_ = register_module("mid_block", VaeMidBlock(ch.back(), norm_of(c)));
  conv_norm_out_ = register_module("conv_norm_out", group_norm(ch.back(), c));
  conv_out_ = register_module("conv_out", conv3x3(ch.back(), 2 * c.latent_channels));
}

torch::Tensor VaeEncoderImpl::forward(const torch::Tensor& x, VaeTrace* trace) {
  auto h = conv_in_(x);
  record(trace, "encoder.conv_in", h);
  for (size_t i = 0; i < down_blocks_->size(); ++i) {
    h = down_blocks_[i]->as<VaeDownBlock>()->forward(h);
    record(trace, "encoder.down_blocks." + std::to_string(i), h);
  }
  h = mid_block_(h);
  record(trace, "encoder.mid_block", h);
  h = conv_out_(silu_fresh(conv_norm_out_(h)));
  record(trace, "encoder.conv_out", h);
  return h;
}

VaeDecoderImpl::VaeDecoderImpl(const VaeConfig& c) {
  // The decoder mirrors the encoder: it starts at the widest level and walks back up.
  const std::vector<int> ch(c.block_out_channels.rbegin(), c.block_out_channels.rend());
  const int levels = static_cast<int>(ch.size());
  conv_in_ = register_module("conv_in", conv3x3(c.latent_channels, ch[0]));
  mid_block_ = register_module("mid_block", VaeMidBlock(ch[0], norm_of(c)));
  up_blocks_ = register_module("up_blocks", torch::nn::ModuleList());
  for (int i = 0; i < levels; ++i)
    up_blocks_->push_back(VaeUpBlock(i == 0 ? ch[0] : ch[i - 1], ch[i], c.layers_per_block + 1,
                                     /*upsample=*/i + 1 < levels, norm_of(c)));
  conv_norm_out_ = register_module("conv_norm_out", group_norm(ch.back(), c));
  conv_out_ = register_module("conv_out", conv3x3(ch.back(), c.out_channels));
}

torch::Tensor VaeDecoderImpl::forward(const torch::Tensor& z, VaeTrace* trace) {
  auto h = conv_in_(z);
  record(trace, "decoder.conv_in", h);
  h = mid_block_(h);
  record(trace, "decoder.mid_block", h);
  for (size_t i = 0; i < up_blocks_->size(); ++i) {
    h = up_blocks_[i]->as<VaeUpBlock>()->forward(h);
    record(trace, "decoder.up_blocks." + std::to_string(i), h);
  }
  return conv_out_(silu_fresh(conv_norm_out_(h)));
}

AutoencoderKLImpl::AutoencoderKLImpl(const VaeConfig& config) : config_(config) {
  check_config(config_);
  encoder_ = register_module("encoder", VaeEncoder(config_));
  decoder_ = register_module("decoder", VaeDecoder(config_));
  const int moments = 2 * config_.latent_channels;
  if (config_.use_quant_conv)
    quant_conv_ = register_module("quant_conv", conv1x1(moments, moments));
  if (config_.use_post_quant_conv)
    post_quant_conv_ = register_module("post_quant_conv",
                                       conv1x1(config_.latent_channels, config_.latent_channels));
}

int AutoencoderKLImpl::downscale_factor() const {
  return 1 << (config_.block_out_channels.size() - 1);
}

AutoencoderKLImpl::Posterior AutoencoderKLImpl::encode(const torch::Tensor& x, VaeTrace* trace) {
  check_input(x, config_.in_channels, "encoder input");
  auto moments = encoder_(x, trace);
  if (quant_conv_) {
    moments = quant_conv_(moments);
    record(trace, "quant_conv", moments);
  }
  auto halves = moments.chunk(2, 1);
  Posterior posterior;
  posterior.mean = halves[0];
  posterior.logvar = halves[1].clamp(-30.0, 20.0);
  posterior.std = torch::exp(0.5 * posterior.logvar);
  return posterior;
}

torch::Tensor AutoencoderKLImpl::decode(const torch::Tensor& z, VaeTrace* trace) {
  check_input(z, config_.latent_channels, "latents");
  if (!post_quant_conv_) return decoder_(z, trace);
  auto h = post_quant_conv_(z);
  record(trace, "post_quant_conv", h);
  return decoder_(h, trace);
}

// The same operations in the same order as diffusers (divide, then add; subtract, then
// multiply), so the float32 roundings agree.
torch::Tensor decoder_input_of(const torch::Tensor& latents, const VaeConfig& config) {
  auto z = latents / config.scaling_factor;
  return config.shift_factor != 0.0 ? z + config.shift_factor : z;
}

torch::Tensor pipeline_latents_of(const torch::Tensor& sample, const VaeConfig& config) {
  auto shifted = config.shift_factor != 0.0 ? sample - config.shift_factor : sample;
  return shifted * config.scaling_factor;
}

}  // namespace dd::models
