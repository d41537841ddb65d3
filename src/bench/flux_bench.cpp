#include "bench/flux_bench.h"

#include <malloc.h>

#include <algorithm>
#include <functional>

#include "bench/flux_flops.h"
#include "bench/process_memory.h"
#include "models/attention.h"
#include "models/build_dtype.h"
#include "models/flux_transformer.h"
#include "models/fused_attention.h"
#include "models/t5_encoder.h"
#include "models/vae.h"
#include "pipeline/compute_layout.h"
#include "util/error.h"

namespace dd::bench {

namespace {

constexpr auto kBf16 = torch::kBFloat16;

// The real FLUX.1 VAE (ae.safetensors): SD's AutoencoderKL with 16 latent channels, a shift and
// no quant convolutions.
models::VaeConfig flux_vae(bool tiny) {
  models::VaeConfig vae;
  vae.latent_channels = 16;
  vae.scaling_factor = 0.3611;
  vae.shift_factor = 0.1159;
  vae.use_quant_conv = vae.use_post_quant_conv = false;
  if (tiny) {
    vae.block_out_channels = {32, 32, 32, 32};
    vae.layers_per_block = 1;
  }
  return vae;
}

// The tiny variant keeps FLUX's head width (128, so the attention kernels see the real head
// shape) and structure (double and single blocks, RoPE axes) with two heads and three blocks.
void shrink(models::FluxConfig& flux, models::T5Config& t5) {
  flux.hidden_size = 256;
  flux.num_heads = 2;
  flux.depth = 1;
  flux.depth_single = 2;
  flux.context_in_dim = 64;
  flux.vec_in_dim = 32;
  t5.vocab_size = 1000;
  t5.d_model = 64;
  t5.d_kv = 16;
  t5.num_heads = 4;
  t5.d_ff = 128;
  t5.num_layers = 2;
}

void resolve(FluxBenchResult& r) {
  const auto& o = r.options;
  if (!is_flux_bench_arch(o.arch))
    throw Error("bench: FLUX arch must be flux-schnell or flux-dev, got '" + o.arch + "'");
  if (o.width < 16 || o.height < 16 || o.width % 16 != 0 || o.height % 16 != 0)
    throw Error("bench: FLUX width and height must be positive multiples of 16, got " +
                std::to_string(o.width) + "x" + std::to_string(o.height));
  if (o.runs < 1) throw Error("bench: --runs must be at least 1");
  const bool dev = o.arch == "flux-dev";
  r.transformer.guidance_embed = dev;
  if (o.tiny) shrink(r.transformer, r.t5);
  r.transformer.validate();
  r.image_tokens = int64_t(o.width / 16) * (o.height / 16);
  r.text_tokens = dev ? 512 : 256;
}

// Runs `phase` with the process's peak resident memory reset at its start (after the heap that
// earlier phases freed was returned), and records that peak and what stays resident after it.
FluxPhase in_phase(FluxBenchResult& r, const std::function<Measurement()>& phase) {
  malloc_trim(0);
  const int64_t start = current_rss_bytes();
  const bool reset = reset_peak_rss();
  r.peak_rss_by_phase = r.peak_rss_by_phase && reset;
  FluxPhase p;
  p.m = phase();
  if (reset) {
    p.peak_rss_bytes = peak_rss_bytes();
    p.m.peak_rss_above_start = p.peak_rss_bytes - start;
    r.peak_rss_bytes = std::max(r.peak_rss_bytes, p.peak_rss_bytes);
  }
  malloc_trim(0);
  p.rss_after_bytes = current_rss_bytes();
  return p;
}

// `runs` timed runs of `work`, with the FLOPs the model's config says one run does.
Measurement timed(int runs, const FlopCount& flops, const std::function<void()>& work) {
  Measurement m = time_runs(runs, work);
  m.flops = flops;
  return m;
}

AttentionTiming time_attention(const FluxBenchResult& r) {
  AttentionTiming a;
  a.heads = r.transformer.num_heads;
  a.head_dim = r.transformer.head_dim;
  a.tokens = r.image_tokens + r.text_tokens;
  a.flops = flux_attention_flops(r.transformer, a.tokens);
  const auto make = [&] { return torch::randn({1, a.heads, a.tokens, a.head_dim}).to(kBf16); };
  const auto q = make(), k = make(), v = make();
  const double scale = 1.0 / std::sqrt(static_cast<double>(a.head_dim));
  a.choice = models::cpu_attention_choice(q, k, v, scale);
  const auto fused = [&] { models::fused_attention(q, k, v, scale); };
  const auto sdpa = [&] { at::scaled_dot_product_attention(q, k, v, {}, 0.0, false, scale); };
  FlopCount flops;
  flops.matmul = a.flops;
  fused();  // warm-up: the kernels' first call allocates their workspaces
  a.fused = timed(r.options.runs, flops, fused);
  sdpa();
  a.sdpa = timed(r.options.runs, flops, sdpa);
  return a;
}

// The step's inputs: random packed latents and pooled vector, the prompt's T5 embeddings,
// position ids (0, row, column) of the 2x2 patches and zeros for the text, sigma 1.
models::FluxInputs step_inputs(const FluxBenchResult& r, const torch::Tensor& embeddings) {
  const auto& c = r.transformer;
  models::FluxInputs in;
  in.img = torch::randn({1, r.image_tokens, c.in_channels}).to(kBf16);
  const int64_t rows = r.options.height / 16, cols = r.options.width / 16;
  const auto row = torch::arange(rows).unsqueeze(1).expand({rows, cols});
  const auto col = torch::arange(cols).unsqueeze(0).expand({rows, cols});
  in.img_ids =
      torch::stack({torch::zeros_like(row), row, col}, -1).reshape({-1, 3}).to(torch::kFloat32);
  in.txt = embeddings;
  in.txt_ids = torch::zeros({r.text_tokens, 3});
  in.timesteps = torch::ones({1});
  in.y = torch::randn({1, c.vec_in_dim}).to(kBf16);
  if (c.guidance_embed) in.guidance = torch::full({1}, 3.5);
  return in;
}

// T5 on one prompt of random ids; returns its embeddings in bf16 (what the prompt cache keeps).
torch::Tensor run_t5(FluxBenchResult& r, std::ostream& log, models::T5Encoder& t5) {
  log << "bench: building T5 (" << weight_format_name(r.options.t5_weights) << ")\n";
  r.t5_build = in_phase(r, [&] {
    return time_runs(1, [&] {
      t5 = models::T5Encoder(r.t5);
      r.t5_weights = randomize_weights(*t5, r.options.t5_weights);
      t5->set_compute_dtype(kBf16);
    });
  });
  log << "bench: T5 encode, " << r.text_tokens << " tokens\n";
  const auto ids = torch::randint(0, r.t5.vocab_size, {1, r.text_tokens}, torch::kInt64);
  torch::Tensor embeddings;
  r.t5_encode = in_phase(r, [&] {
    return timed(r.options.runs, t5_encode_flops(r.t5, r.text_tokens),
                 [&] { embeddings = t5->forward(ids).last_hidden_state.to(kBf16); });
  });
  return embeddings;
}

void run_transformer(FluxBenchResult& r, std::ostream& log, const torch::Tensor& embeddings) {
  log << "bench: building the transformer (" << weight_format_name(r.options.weights) << ")\n";
  models::FluxTransformer flux{nullptr};
  r.transformer_build = in_phase(r, [&] {
    return time_runs(1, [&] {
      flux = models::FluxTransformer(r.transformer);
      r.transformer_weights = randomize_weights(*flux, r.options.weights);
    });
  });
  log << "bench: transformer step, " << r.image_tokens << " image + " << r.text_tokens
      << " text tokens\n";
  const auto inputs = step_inputs(r, embeddings);
  r.step = in_phase(r, [&] {
    return timed(r.options.runs, flux_step_flops(r.transformer, r.image_tokens, r.text_tokens),
                 [&] { flux->forward(inputs).to(torch::kFloat32); });
  });
  log << "bench: expanding every stored weight to bf16 once\n";
  r.expand =
      in_phase(r, [&] { return time_runs(r.options.runs, [&] { expand_all(*flux, kBf16); }); });
  // The decode runs beside the transformer, as a server that keeps its model loaded runs it.
  log << "bench: VAE decode\n";
  r.vae_decode = in_phase(r, [&] {
    models::AutoencoderKL vae{nullptr};
    {
      const models::BuildDtypeScope bf16(kBf16);
      vae = models::AutoencoderKL(flux_vae(r.options.tiny));
    }
    vae->to(kBf16);
    for (auto& p : vae->parameters())
      if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
    const auto z = pipeline::in_compute_layout(
        torch::randn({1, 16, r.options.height / 8, r.options.width / 8}), kBf16);
    FlopCount flops;
    Measurement m = time_runs(r.options.runs, [&] {
      const FlopCounter counter;
      vae->decode(z).to(torch::kFloat32);
      flops = counter.count();
    });
    m.flops = flops;
    return m;
  });
}

}  // namespace

bool is_flux_bench_arch(const std::string& arch) {
  return arch == "flux-schnell" || arch == "flux-dev";
}

double FluxBenchResult::expand_share() const {
  const double step_seconds = step.m.median();
  return step_seconds > 0 ? expand.m.median() / step_seconds : 0;
}

FluxBenchResult run_flux_bench(const FluxBenchOptions& options, std::ostream& log) {
  FluxBenchResult r;
  r.options = options;
  resolve(r);
  r.threads = at::get_num_threads();
  r.peak_rss_by_phase = true;
  torch::NoGradGuard no_grad;

  const CeilingShapes ceiling_shapes =
      options.tiny ? CeilingShapes{1, 64, 32, 512, 0.01} : CeilingShapes{};
  log << "bench: ceiling (large convolution and matrix product, bf16 and fp32)\n";
  const Ceiling before = measure_ceiling(options.runs, ceiling_shapes);
  log << "bench: attention kernels on the step's shape\n";
  r.attention = time_attention(r);

  models::T5Encoder t5{nullptr};
  const auto embeddings = run_t5(r, log, t5);
  if (options.drop_t5) {
    log << "bench: dropping T5 (the prompt's embeddings stay)\n";
    t5 = nullptr;
  }
  run_transformer(r, log, embeddings);
  t5 = nullptr;

  log << "bench: ceiling again\n";
  r.ceiling = better_of(before, measure_ceiling(options.runs, ceiling_shapes));
  if (!r.peak_rss_by_phase) r.peak_rss_bytes = peak_rss_bytes();
  return r;
}

}  // namespace dd::bench
