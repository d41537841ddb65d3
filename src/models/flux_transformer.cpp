#include "models/flux_transformer.h"

#include <algorithm>

#include "models/build_dtype.h"
#include "util/error.h"

namespace dd::models {

namespace {

constexpr int kSinusoidDim = 256;

std::string shape_of(const torch::Tensor& t) {
  return t.defined() ? c10::str(t.sizes()) : std::string("(none)");
}

// A float16 residual stream can overflow; diffusers clips it after every block.
torch::Tensor clip_half(const torch::Tensor& x) {
  return x.scalar_type() == torch::kHalf ? x.clamp(-65504, 65504) : x;
}

// One value per row: [B], or a single value broadcast to the batch.
torch::Tensor per_row(const torch::Tensor& values, int64_t batch, const char* what) {
  const auto flat = values.reshape({-1});
  if (flat.numel() == batch) return flat;
  if (flat.numel() == 1) return flat.expand({batch});
  throw Error(std::string("FLUX transformer: ") + what + " must have one value per batch row (" +
              std::to_string(batch) + "), got " + c10::str(values.sizes()));
}

// ids [N, 3] or [B, N, 3], joined along the token axis with the text ids first.
torch::Tensor joined_ids(const torch::Tensor& txt_ids, const torch::Tensor& img_ids) {
  if (txt_ids.dim() == img_ids.dim()) return torch::cat({txt_ids, img_ids}, -2);
  const auto batch =
      std::max(txt_ids.dim() == 3 ? txt_ids.size(0) : 1, img_ids.dim() == 3 ? img_ids.size(0) : 1);
  const auto batched = [&](const torch::Tensor& ids) {
    return ids.dim() == 3 ? ids : ids.unsqueeze(0).expand({batch, -1, -1});
  };
  return torch::cat({batched(txt_ids), batched(img_ids)}, -2);
}

}  // namespace

FluxTransformerImpl::FluxTransformerImpl(const FluxConfig& config) : config_(config) {
  config_.validate();
  const int d = config_.hidden_size;
  img_in_ = register_module("img_in", built(PackedLinear(config_.in_channels, d)));
  time_in_ = register_module("time_in", built(FluxMLPEmbedder(kSinusoidDim, d)));
  vector_in_ = register_module("vector_in", built(FluxMLPEmbedder(config_.vec_in_dim, d)));
  if (config_.guidance_embed)
    guidance_in_ = register_module("guidance_in", built(FluxMLPEmbedder(kSinusoidDim, d)));
  txt_in_ = register_module("txt_in", built(PackedLinear(config_.context_in_dim, d)));
  // Each block converts to the build dtype as soon as it exists, so a 12 B model never has more
  // than one block in float32.
  double_blocks_ = register_module("double_blocks", torch::nn::ModuleList());
  for (int i = 0; i < config_.depth; ++i)
    double_blocks_->push_back(built(FluxDoubleBlock(d, config_.head_dim, config_.mlp_hidden())));
  single_blocks_ = register_module("single_blocks", torch::nn::ModuleList());
  for (int i = 0; i < config_.depth_single; ++i)
    single_blocks_->push_back(built(FluxSingleBlock(d, config_.head_dim, config_.mlp_hidden())));
  final_layer_ = register_module("final_layer", built(FluxFinalLayer(d, config_.out_channels)));
}

void FluxTransformerImpl::check(const FluxInputs& in) const {
  const auto fail = [&](const std::string& what) {
    throw Error("FLUX transformer: " + what + " (img " + shape_of(in.img) + ", txt " +
                shape_of(in.txt) + ", y " + shape_of(in.y) + ")");
  };
  if (!in.img.defined() || in.img.dim() != 3 || in.img.size(2) != config_.in_channels)
    fail("img must be [B, S, " + std::to_string(config_.in_channels) + "]");
  const auto batch = in.img.size(0);
  if (!in.txt.defined() || in.txt.dim() != 3 || in.txt.size(0) != batch ||
      in.txt.size(2) != config_.context_in_dim)
    fail("txt must be [B, L, " + std::to_string(config_.context_in_dim) + "]");
  if (!in.y.defined() || in.y.dim() != 2 || in.y.size(0) != batch ||
      in.y.size(1) != config_.vec_in_dim)
    fail("y must be [B, " + std::to_string(config_.vec_in_dim) + "]");
  const auto ids_fit = [&](const torch::Tensor& ids, int64_t tokens) {
    return ids.defined() && (ids.dim() == 2 || (ids.dim() == 3 && ids.size(0) == batch)) &&
           ids.size(-2) == tokens && ids.size(-1) == static_cast<int64_t>(config_.axes_dim.size());
  };
  if (!ids_fit(in.img_ids, in.img.size(1)))
    fail("img_ids must be [S, 3] or [B, S, 3], got " + shape_of(in.img_ids));
  if (!ids_fit(in.txt_ids, in.txt.size(1)))
    fail("txt_ids must be [L, 3] or [B, L, 3], got " + shape_of(in.txt_ids));
  if (!in.timesteps.defined()) fail("no timesteps");
  if (config_.guidance_embed && !in.guidance.defined())
    fail("this model has a guidance embedder (a dev-type model) and needs a guidance value");
  if (!config_.guidance_embed && in.guidance.defined())
    fail("this model has no guidance embedder (a schnell-type model) but got a guidance value");
}

torch::Tensor FluxTransformerImpl::embed_vec(const FluxInputs& in, Trace* trace) {
  const auto batch = in.img.size(0);
  const auto dtype = in.img.scalar_type();
  const auto device = in.img.device();
  const auto t_proj = flux_timestep_embedding(per_row(in.timesteps.to(device), batch, "timesteps"));
  auto vec = time_in_(t_proj.to(dtype));
  if (guidance_in_) {
    const auto g_proj = flux_timestep_embedding(per_row(in.guidance.to(device), batch, "guidance"));
    vec = vec + guidance_in_(g_proj.to(dtype));
    if (trace) (*trace)["time_text_embed.guidance_proj"] = g_proj;
  }
  vec = vec + vector_in_(in.y.to(in.img.options()));
  if (trace) {
    (*trace)["time_text_embed.time_proj"] = t_proj;
    (*trace)["time_text_embed"] = vec;
  }
  return vec;
}

torch::Tensor FluxTransformerImpl::forward(const FluxInputs& in, Trace* trace) {
  check(in);
  const auto record = [&](const std::string& name, const torch::Tensor& t) {
    if (trace) (*trace)[name] = t;
  };
  auto img = img_in_(in.img);
  record("x_embedder", img);
  const auto vec = embed_vec(in, trace);
  auto txt = txt_in_(in.txt.to(in.img.options()));
  record("context_embedder", txt);
  const auto ids = joined_ids(in.txt_ids, in.img_ids).to(in.img.device());
  const auto rope = flux_rope(ids, config_.axes_dim, config_.theta);
  if (trace) record("pos_embed", flux_rope_matrices(rope));

  for (size_t i = 0; i < double_blocks_->size(); ++i) {
    std::tie(img, txt) = double_blocks_[i]->as<FluxDoubleBlock>()->forward(img, txt, vec, rope);
    img = clip_half(img);
    txt = clip_half(txt);
    record("transformer_blocks." + std::to_string(i) + ".img", img);
    record("transformer_blocks." + std::to_string(i) + ".txt", txt);
  }
  const auto n_txt = txt.size(1);
  auto x = torch::cat({txt, img}, 1);
  for (size_t i = 0; i < single_blocks_->size(); ++i) {
    x = clip_half(single_blocks_[i]->as<FluxSingleBlock>()->forward(x, vec, rope));
    record("single_transformer_blocks." + std::to_string(i), x);
  }
  const auto normed = final_layer_->norm(x.narrow(1, n_txt, x.size(1) - n_txt), vec);
  record("norm_out", normed);
  return final_layer_->project(normed);
}

}  // namespace dd::models
