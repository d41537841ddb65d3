#pragma once
// The FLUX benchmark's result as JSON or as a table for people (see bench/README.md).
#include <nlohmann/json.hpp>
#include <ostream>

#include "bench/flux_bench.h"

namespace dd::bench {

// Top level: arch, weights, t5_weights, drop_t5, width, height, image_tokens, text_tokens,
// threads, runs, tiny, device, ceiling {...as the SD bench}; one object per phase (t5_build,
// t5_encode, transformer_build, transformer_step, expand_weights, vae_decode) with flops,
// flops_by_kind, seconds, runs, all_seconds, tflops, efficiency, peak_rss_bytes,
// peak_rss_above_start_bytes, rss_after_bytes; weight_storage {t5, transformer: linear_layers,
// converted_layers, bytes}; expand_share_of_step; attention {heads, tokens, head_dim, flops,
// fused_seconds, sdpa_seconds, fused_tflops, sdpa_tflops, choice, faster}; peak_rss_bytes,
// peak_rss_scope; targets {peak_rss_limit_bytes (null for bf16), memory_met, step_efficiency,
// efficiency_target, efficiency_met, expand_share, expand_target, expand_met}.
nlohmann::ordered_json flux_bench_json(const FluxBenchResult& result);

void print_flux_bench_table(const FluxBenchResult& result, std::ostream& out);

}  // namespace dd::bench
