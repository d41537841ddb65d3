#include "bench/flux_report.h"

#include <iomanip>
#include <sstream>

#include "bench/report.h"

namespace dd::bench {

namespace {

using nlohmann::ordered_json;

constexpr double kGiB = double(1ull << 30);
// The figures: peak resident memory with an fp8 or Q8_0 transformer (16 GiB) or Q4_K
// (10 GiB), a step at 60% of the bf16 ceiling, expansion at most 15% of a step.
constexpr double kEfficiencyTarget = 0.60;
constexpr double kExpandTarget = 0.15;

double memory_limit_bytes(WeightFormat weights) {
  switch (weights) {
    case WeightFormat::FP8:
    case WeightFormat::Q8_0:
      return 16 * kGiB;
    case WeightFormat::Q4_K:
      return 10 * kGiB;
    case WeightFormat::BF16:
      return 0;
  }
  return 0;
}

double efficiency(const Measurement& m, const FluxBenchResult& r) {
  return bench::efficiency(m, r.ceiling_tflops());
}

ordered_json measurement_json(const Measurement& m, const FluxBenchResult& r) {
  return bench::measurement_json(m, r.ceiling_tflops());
}

ordered_json phase_json(const FluxPhase& p, const FluxBenchResult& r) {
  auto out = measurement_json(p.m, r);
  out["peak_rss_bytes"] = p.peak_rss_bytes;
  out["peak_rss_above_start_bytes"] = p.m.peak_rss_above_start;
  out["rss_after_bytes"] = p.rss_after_bytes;
  return out;
}

ordered_json weights_json(const WeightSummary& w) {
  return {{"linear_layers", w.linear_layers},
          {"converted_layers", w.converted_layers},
          {"bytes", w.bytes}};
}

ordered_json ceiling_json(const FluxBenchResult& r) {
  const auto& c = r.ceiling;
  return {{"bf16_tflops", c.best(torch::kBFloat16)},
          {"fp32_tflops", c.best(torch::kFloat32)},
          {"conv_bf16_tflops", c.conv_bf16},
          {"conv_fp32_tflops", c.conv_fp32},
          {"matmul_bf16_tflops", c.matmul_bf16},
          {"matmul_fp32_tflops", c.matmul_fp32},
          {"tflops", r.ceiling_tflops()},
          {"conv_shape", c.shapes.conv_text()},
          {"matmul_shape", c.shapes.matmul_text()},
          {"measured", "before and after the model parts; the better of the two"}};
}

ordered_json attention_json(const AttentionTiming& a) {
  const double fused = a.fused.median(), sdpa = a.sdpa.median();
  return {{"heads", a.heads},
          {"tokens", a.tokens},
          {"head_dim", a.head_dim},
          {"dtype", "bf16"},
          {"flops", a.flops},
          {"fused_seconds", fused},
          {"sdpa_seconds", sdpa},
          {"fused_tflops", a.fused.tflops()},
          {"sdpa_tflops", a.sdpa.tflops()},
          {"choice", a.choice},
          {"faster", fused <= sdpa ? "fused" : "sdpa"}};
}

ordered_json targets_json(const FluxBenchResult& r) {
  const double limit = memory_limit_bytes(r.options.weights);
  const double step_efficiency = efficiency(r.step.m, r);
  ordered_json t;
  t["peak_rss_limit_bytes"] = limit > 0 ? ordered_json(limit) : ordered_json(nullptr);
  t["memory_met"] = limit > 0 ? ordered_json(static_cast<double>(r.peak_rss_bytes) <= limit)
                              : ordered_json(nullptr);
  t["step_efficiency"] = step_efficiency;
  t["efficiency_target"] = kEfficiencyTarget;
  t["efficiency_met"] = step_efficiency >= kEfficiencyTarget;
  t["expand_share"] = r.expand_share();
  t["expand_target"] = kExpandTarget;
  t["expand_met"] = r.expand_share() <= kExpandTarget;
  return t;
}

std::string fixed(double value, int decimals) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(decimals) << value;
  return text.str();
}

void print_phase(std::ostream& out, const std::string& name, const FluxPhase& p,
                 const FluxBenchResult& r) {
  const auto& m = p.m;
  out << std::left << std::setw(19) << name << std::right << std::setw(9)
      << fixed(m.flops.total() / 1e12, 3) << std::setw(10) << fixed(m.median(), 2) << std::setw(9)
      << fixed(m.tflops(), 3) << std::setw(10) << fixed(100 * efficiency(m, r), 1) << "%"
      << std::setw(10) << fixed(static_cast<double>(p.peak_rss_bytes) / kGiB, 2) << std::setw(10)
      << fixed(static_cast<double>(p.rss_after_bytes) / kGiB, 2) << "\n";
}

}  // namespace

ordered_json flux_bench_json(const FluxBenchResult& r) {
  const auto& o = r.options;
  ordered_json out = {{"arch", o.arch},
                      {"weights", weight_format_name(o.weights)},
                      {"t5_weights", weight_format_name(o.t5_weights)},
                      {"drop_t5", o.drop_t5},
                      {"dtype", "bf16"},
                      {"width", o.width},
                      {"height", o.height},
                      {"image_tokens", r.image_tokens},
                      {"text_tokens", r.text_tokens},
                      {"threads", r.threads},
                      {"runs", o.runs},
                      {"tiny", o.tiny},
                      {"device", "cpu"}};
  out["ceiling"] = ceiling_json(r);
  out["t5_build"] = phase_json(r.t5_build, r);
  out["t5_encode"] = phase_json(r.t5_encode, r);
  out["transformer_build"] = phase_json(r.transformer_build, r);
  out["transformer_step"] = phase_json(r.step, r);
  out["expand_weights"] = phase_json(r.expand, r);
  out["vae_decode"] = phase_json(r.vae_decode, r);
  out["weight_storage"] = {{"t5", weights_json(r.t5_weights)},
                           {"transformer", weights_json(r.transformer_weights)}};
  out["expand_share_of_step"] = r.expand_share();
  out["attention"] = attention_json(r.attention);
  out["peak_rss_bytes"] = r.peak_rss_bytes;
  out["peak_rss_scope"] = r.peak_rss_by_phase ? "model phases" : "whole process";
  out["targets"] = targets_json(r);
  return out;
}

void print_flux_bench_table(const FluxBenchResult& r, std::ostream& out) {
  const auto& o = r.options;
  const auto gib = [](double bytes) { return fixed(bytes / kGiB, 2) + " GiB"; };
  out << "diffusiond bench: " << o.arch << (o.tiny ? " (tiny)" : "") << " " << o.width << "x"
      << o.height << ", transformer " << weight_format_name(o.weights) << ", T5 "
      << weight_format_name(o.t5_weights) << (o.drop_t5 ? " (dropped after encoding)" : "")
      << ", bf16 activations, " << r.threads << " threads\n"
      << "ceiling TFLOP/s: bf16 " << fixed(r.ceiling_tflops(), 3) << " (conv "
      << fixed(r.ceiling.conv_bf16, 3) << ", matmul " << fixed(r.ceiling.matmul_bf16, 3) << ")\n"
      << "weights: T5 " << gib(static_cast<double>(r.t5_weights.bytes)) << ", transformer "
      << gib(static_cast<double>(r.transformer_weights.bytes)) << "\n\n"
      << std::left << std::setw(19) << "phase" << std::right
      << "    TFLOP   seconds  TFLOP/s  efficiency  peak GiB  after GiB\n";
  print_phase(out, "t5_build", r.t5_build, r);
  print_phase(out, "t5_encode", r.t5_encode, r);
  print_phase(out, "transformer_build", r.transformer_build, r);
  print_phase(out, "transformer_step", r.step, r);
  print_phase(out, "expand_weights", r.expand, r);
  print_phase(out, "vae_decode", r.vae_decode, r);
  const auto& a = r.attention;
  out << "\nexpansion: " << fixed(100 * r.expand_share(), 1) << "% of a step\n"
      << "attention [1, " << a.heads << ", " << a.tokens << ", " << a.head_dim << "] bf16: fused "
      << fixed(a.fused.median(), 3) << " s, sdpa " << fixed(a.sdpa.median(), 3)
      << " s; attention() runs " << a.choice << "\n"
      << "peak resident memory: " << gib(static_cast<double>(r.peak_rss_bytes))
      << (r.peak_rss_by_phase ? "" : " (whole process)") << "\n";
}

}  // namespace dd::bench
