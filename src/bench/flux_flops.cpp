#include "bench/flux_flops.h"

namespace dd::bench {

namespace {

// 2 * rows * in * out: a weight [out, in] applied to `rows` tokens.
double linear(double rows, double in, double out) { return 2.0 * rows * in * out; }

}  // namespace

double flux_attention_flops(const models::FluxConfig& c, int64_t tokens, int64_t batch) {
  const double s = static_cast<double>(tokens);
  return 4.0 * static_cast<double>(batch) * s * s * c.num_heads * c.head_dim;
}

FlopCount flux_step_flops(const models::FluxConfig& c, int64_t image_tokens, int64_t text_tokens,
                          int64_t batch) {
  const double b = static_cast<double>(batch);
  const double img = b * static_cast<double>(image_tokens);
  const double txt = b * static_cast<double>(text_tokens);
  const double d = c.hidden_size, m = c.mlp_hidden();
  constexpr double kSinusoid = 256;

  FlopCount f;
  // Embedders: time (and guidance) from a 256-wide sinusoid, the pooled vector, the inputs.
  const double embedder = linear(b, kSinusoid, d) + linear(b, d, d);
  f.linear += embedder * (c.guidance_embed ? 2 : 1);
  f.linear += linear(b, c.vec_in_dim, d) + linear(b, d, d);
  f.linear += linear(img, c.in_channels, d) + linear(txt, c.context_in_dim, d);

  // Double blocks: per stream a 6-way modulation, qkv, proj and the MLP.
  const auto stream = [&](double rows) {
    return linear(b, d, 6 * d) + linear(rows, d, 3 * d) + linear(rows, d, d) + linear(rows, d, m) +
           linear(rows, m, d);
  };
  f.linear += c.depth * (stream(img) + stream(txt));
  // Single blocks: a 3-way modulation, linear1 (qkv | MLP in) and linear2 (attention | MLP out).
  const double tokens = img + txt;
  f.linear += c.depth_single *
              (linear(b, d, 3 * d) + linear(tokens, d, 3 * d + m) + linear(tokens, d + m, d));
  // Final layer: shift and scale, then the projection of the image tokens.
  f.linear += linear(b, d, 2 * d) + linear(img, d, c.out_channels);

  f.matmul =
      (c.depth + c.depth_single) * flux_attention_flops(c, image_tokens + text_tokens, batch);
  return f;
}

FlopCount t5_encode_flops(const models::T5Config& c, int64_t tokens, int64_t batch) {
  const double rows = static_cast<double>(batch * tokens);
  const double d = c.d_model, inner = c.inner_dim(), ff = c.d_ff;
  FlopCount f;
  f.linear = c.num_layers * (linear(rows, d, inner) * 3 + linear(rows, inner, d) +
                             linear(rows, d, ff) * 2 + linear(rows, ff, d));
  f.matmul = c.num_layers * 4.0 * rows * static_cast<double>(tokens) * inner;
  return f;
}

}  // namespace dd::bench
