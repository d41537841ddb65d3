#pragma once
// `diffusiond bench --arch flux-schnell|flux-dev`: speed and memory of a full-size FLUX.1 on this
// machine. The transformer (12 B parameters) and T5-XXL (4.7 B) are built directly in memory
// with random weights in the selected stored form (bench/flux_random_weights.h): no checkpoint
// is written, since a bf16 FLUX is 24 GB, more than this machine holds. Each phase runs with its
// peak resident memory measured: building and running T5 on one prompt, dropping it (the
// prompt's embeddings are kept, as the prompt cache keeps them), building the transformer, one
// step, expanding every quantised weight once (what a step spends on expansion), one VAE decode
// with the real 16-channel FLUX VAE, and the attention kernels on the step's attention shape.
#include <torch/torch.h>

#include <cstdint>
#include <ostream>
#include <string>

#include "bench/ceiling.h"
#include "bench/flux_random_weights.h"
#include "bench/measure.h"
#include "models/flux_config.h"
#include "models/t5_config.h"

namespace dd::bench {

struct FluxBenchOptions {
  std::string arch = "flux-schnell";  // or flux-dev (a guidance embedder, 512 T5 tokens)
  int width = 1024;                   // multiples of 16
  int height = 1024;
  WeightFormat weights = WeightFormat::FP8;     // the transformer's
  WeightFormat t5_weights = WeightFormat::FP8;  // T5's
  bool drop_t5 = true;  // free T5 after encoding, before the transformer is built
  int runs = 1;         // timed runs per part (the median is reported)
  bool tiny = false;    // a narrow model of the same structure (tests of the tool)
};

// Whether `arch` is one of the FLUX bench archs.
bool is_flux_bench_arch(const std::string& arch);

// One phase: its time (and FLOPs) and memory. peak_rss_bytes is the process's most resident
// memory during the phase (0 where the kernel cannot reset the peak), rss_after_bytes what
// stayed resident after it.
struct FluxPhase {
  Measurement m;
  int64_t peak_rss_bytes = 0;
  int64_t rss_after_bytes = 0;
};

// The step's attention (one layer: [1, heads, image + text tokens, head_dim] bf16) through the
// fused kernel and through LibTorch's scaled_dot_product_attention, and what attention() picks.
struct AttentionTiming {
  int64_t heads = 0, tokens = 0, head_dim = 0;
  double flops = 0;
  Measurement fused, sdpa;
  std::string choice;  // models::cpu_attention_choice for that shape
};

struct FluxBenchResult {
  FluxBenchOptions options;
  models::FluxConfig transformer;
  models::T5Config t5;
  int64_t image_tokens = 0, text_tokens = 0;
  int threads = 0;
  Ceiling ceiling;  // the better of one measurement before and one after the model parts
  WeightSummary t5_weights, transformer_weights;
  FluxPhase t5_build, t5_encode, transformer_build, step, expand, vae_decode;
  AttentionTiming attention;
  int64_t peak_rss_bytes = 0;      // the most any phase reached
  bool peak_rss_by_phase = false;  // false: only the whole process's peak is known

  double ceiling_tflops() const { return ceiling.best(torch::kBFloat16); }
  // Expansion's share of a step, expand seconds / step seconds.
  double expand_share() const;
};

// Runs every phase, writing what it does to `log`. Bad options are a dd::Error.
FluxBenchResult run_flux_bench(const FluxBenchOptions& options, std::ostream& log);

}  // namespace dd::bench
