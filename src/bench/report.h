#pragma once
// The benchmark's result as JSON (for tracking over time) or as a table for people.
#include <nlohmann/json.hpp>
#include <ostream>

#include "bench/run.h"

namespace dd::bench {

// Top level: arch, dtype, width, height, steps, threads, runs, tiny, tokenizer, ceiling
// {bf16_tflops, fp32_tflops, conv_bf16_tflops, conv_fp32_tflops, matmul_bf16_tflops,
// matmul_fp32_tflops, tflops (the one efficiency uses), conv_shape, matmul_shape, measured}; one
// object per part (text_encode, unet_step, unet_cfg_step, vae_decode, image) with flops,
// flops_by_kind, seconds (the median), runs, all_seconds, tflops and efficiency = tflops /
// ceiling.tflops; checkpoint_load {seconds, runs, all_seconds, bytes}; loaded_rss_bytes,
// load_peak_rss_bytes, inference_peak_rss_bytes, peak_rss_bytes, peak_rss_scope.
nlohmann::ordered_json bench_json(const BenchResult& result);

// A measured part's share of `ceiling_tflops` (0 without a ceiling), and the part as JSON:
// FLOPs by kind, times, TFLOP/s and that efficiency (the SD and the FLUX reports share it).
double efficiency(const Measurement& m, double ceiling_tflops);
nlohmann::ordered_json measurement_json(const Measurement& m, double ceiling_tflops);

void print_bench_table(const BenchResult& result, std::ostream& out);

}  // namespace dd::bench
