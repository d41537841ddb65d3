// The FLUX benchmark: random weights in each stored form, the analytic FLOP count against the
// FlopCounter, and a whole tiny run's report (no timing assertions).
#include <gtest/gtest.h>

#include <sstream>

#include "bench/flop_counter.h"
#include "bench/flux_bench.h"
#include "bench/flux_flops.h"
#include "bench/flux_random_weights.h"
#include "bench/flux_report.h"
#include "models/attention.h"
#include "models/flux_transformer.h"
#include "util/error.h"

namespace dd::bench {
namespace {

models::FluxConfig tiny_flux(bool guidance) {
  models::FluxConfig c;
  c.hidden_size = 256;
  c.num_heads = 2;
  c.depth = 1;
  c.depth_single = 2;
  c.context_in_dim = 64;
  c.vec_in_dim = 32;
  c.guidance_embed = guidance;
  return c;
}

models::FluxInputs tiny_inputs(const models::FluxConfig& c, int64_t image, int64_t text) {
  models::FluxInputs in;
  in.img = torch::randn({1, image, c.in_channels}).to(torch::kBFloat16);
  in.img_ids = torch::zeros({image, 3});
  in.txt = torch::randn({1, text, c.context_in_dim}).to(torch::kBFloat16);
  in.txt_ids = torch::zeros({text, 3});
  in.timesteps = torch::ones({1});
  in.y = torch::randn({1, c.vec_in_dim}).to(torch::kBFloat16);
  if (c.guidance_embed) in.guidance = torch::full({1}, 3.5);
  return in;
}

TEST(FluxRandomWeights, EveryLinearLayerTakesTheStoredForm) {
  torch::NoGradGuard no_grad;
  for (const auto format :
       {WeightFormat::BF16, WeightFormat::FP8, WeightFormat::Q8_0, WeightFormat::Q4_K}) {
    models::FluxTransformer flux(tiny_flux(false));
    const auto summary = randomize_weights(*flux, format);
    int64_t packed = 0, fp8 = 0, bf16 = 0;
    for (const auto& child : flux->modules()) {
      const auto* linear = dynamic_cast<models::PackedLinearImpl*>(child.get());
      if (!linear) continue;
      const bool whole_blocks = linear->in_features() % 256 == 0;  // Q4_K's block
      if (linear->is_packed()) {
        ++packed;
        EXPECT_TRUE(format == WeightFormat::Q8_0 || (format == WeightFormat::Q4_K && whole_blocks));
      } else if (linear->weight.scalar_type() == torch::kFloat8_e4m3fn) {
        ++fp8;
        EXPECT_EQ(format, WeightFormat::FP8);
      } else if (linear->weight.scalar_type() == torch::kBFloat16) {
        ++bf16;
        // Rows that are not whole blocks stay bf16, as GGUF files keep them.
        EXPECT_TRUE(format == WeightFormat::BF16 ||
                    (format == WeightFormat::Q4_K && !whole_blocks));
      }
      const auto w = linear->expanded_weight(torch::kBFloat16);
      EXPECT_EQ(w.sizes(), (std::vector<int64_t>{linear->out_features(), linear->in_features()}));
      EXPECT_TRUE(torch::isfinite(w).all().item<bool>()) << weight_format_name(format);
    }
    // No float32 copy anywhere (a packed layer's `weight` is an empty placeholder).
    for (const auto& p : flux->parameters())
      if (p.numel() > 0) {
        EXPECT_NE(p.scalar_type(), torch::kFloat32) << weight_format_name(format);
      }
    EXPECT_EQ(packed + fp8 + bf16, summary.linear_layers);
    EXPECT_EQ(summary.converted_layers, packed + fp8);
    EXPECT_GT(summary.bytes, 0);
    if (format != WeightFormat::BF16) {
      EXPECT_GT(packed + fp8, summary.linear_layers / 2);
    }
  }
}

TEST(FluxRandomWeights, BlockWeightChecksItsBytesAndFormats) {
  const auto bytes = torch::zeros({34 * 4}, torch::kUInt8);  // four Q8_0 blocks, d = 0
  const BlockWeight weight(io::GgmlType::Q8_0, bytes, {2, 64});
  EXPECT_EQ(weight.format(), "Q8_0");
  EXPECT_EQ(weight.stored_bytes(), 136);
  EXPECT_EQ(weight.expand(torch::kBFloat16).abs().sum().item<float>(), 0.0f);
  EXPECT_THROW(BlockWeight(io::GgmlType::Q8_0, bytes, {2, 32}), Error);
  EXPECT_THROW(weight_format("int4"), Error);
  EXPECT_EQ(weight_format_name(weight_format("q4_k")), "q4_k");
}

TEST(FluxFlops, AnalyticCountMatchesTheCounterOnANarrowModel) {
  torch::NoGradGuard no_grad;
  for (const bool guidance : {false, true}) {
    const auto config = tiny_flux(guidance);
    models::FluxTransformer flux(config);
    randomize_weights(*flux, WeightFormat::BF16);
    const auto inputs = tiny_inputs(config, 48, 16);
    // The unfused attention runs matrix products the counter sees one by one.
    const models::UnfusedAttentionScope unfused;
    const FlopCounter counter;
    flux->forward(inputs);
    const auto expected = flux_step_flops(config, 48, 16);
    EXPECT_DOUBLE_EQ(counter.count().linear, expected.linear);
    EXPECT_DOUBLE_EQ(counter.count().matmul, expected.matmul);
    EXPECT_EQ(counter.count().unknown, 0);
  }
}

TEST(FluxFlops, FullSizeStepIsAbout70TeraflopAt1024) {
  models::FluxConfig schnell;
  schnell.guidance_embed = false;
  const auto f = flux_step_flops(schnell, 4096, 256);
  // Each token meets one stream's 12 D^2 weights per block (qkv 3, proj 1, MLP 8; the
  // modulations run once per image), in 57 blocks; and 57 joint attentions.
  const double d2 = 3072.0 * 3072;
  EXPECT_NEAR(f.linear / 1e12, 2.0 * 4352 * 12 * d2 * 57 / 1e12, 0.1);
  EXPECT_NEAR(f.matmul / 1e12, 57 * 4.0 * 4352.0 * 4352 * 3072 / 1e12, 1e-6);
}

TEST(FluxBench, TinyRunReportsEveryPhase) {
  FluxBenchOptions options;
  options.arch = "flux-dev";
  options.width = 128;
  options.height = 64;
  options.weights = WeightFormat::Q4_K;
  options.tiny = true;
  std::ostringstream log;
  const auto result = run_flux_bench(options, log);
  const auto json = flux_bench_json(result);
  EXPECT_EQ(json["arch"], "flux-dev");
  EXPECT_EQ(json["weights"], "q4_k");
  EXPECT_EQ(json["t5_weights"], "fp8");
  EXPECT_EQ(json["image_tokens"], 8 * 4);
  EXPECT_EQ(json["text_tokens"], 512);
  for (const char* phase : {"t5_build", "t5_encode", "transformer_build", "transformer_step",
                            "expand_weights", "vae_decode"}) {
    ASSERT_TRUE(json.contains(phase)) << phase;
    EXPECT_EQ(json[phase]["runs"], 1) << phase;
    EXPECT_GT(json[phase]["seconds"].get<double>(), 0) << phase;
    EXPECT_TRUE(json[phase].contains("peak_rss_bytes")) << phase;
  }
  for (const char* phase : {"t5_encode", "transformer_step", "vae_decode"})
    EXPECT_GT(json[phase]["flops"].get<double>(), 0) << phase;
  EXPECT_DOUBLE_EQ(json["transformer_step"]["flops"].get<double>(),
                   flux_step_flops(result.transformer, 32, 512).total());
  EXPECT_GT(json["vae_decode"]["flops_by_kind"]["convolution"].get<double>(), 0);
  EXPECT_GT(json["weight_storage"]["transformer"]["converted_layers"].get<int64_t>(), 0);
  EXPECT_GT(json["ceiling"]["bf16_tflops"].get<double>(), 0);
  EXPECT_EQ(json["attention"]["head_dim"], 128);
  EXPECT_EQ(json["attention"]["tokens"], 32 + 512);
  EXPECT_GT(json["attention"]["fused_seconds"].get<double>(), 0);
  EXPECT_GT(json["attention"]["sdpa_seconds"].get<double>(), 0);
  EXPECT_GT(json["peak_rss_bytes"].get<int64_t>(), 0);
  EXPECT_EQ(json["targets"]["peak_rss_limit_bytes"].get<double>(), 10.0 * (1ull << 30));
  EXPECT_TRUE(json["targets"].contains("expand_share"));
  std::ostringstream table;
  print_flux_bench_table(result, table);
  EXPECT_NE(table.str().find("transformer_step"), std::string::npos);
}

TEST(FluxBench, BadOptionsAreErrors) {
  std::ostringstream log;
  FluxBenchOptions options;
  options.tiny = true;
  options.width = 72;  // not a multiple of 16
  EXPECT_THROW(run_flux_bench(options, log), Error);
  options.width = 64;
  options.arch = "flux-pro";
  EXPECT_THROW(run_flux_bench(options, log), Error);
}

}  // namespace
}  // namespace dd::bench
