#include "bench/report.h"

#include <iomanip>
#include <sstream>

#include "models/device.h"

namespace dd::bench {

namespace {

using nlohmann::ordered_json;

double efficiency(const Measurement& m, const BenchResult& r) {
  return bench::efficiency(m, r.ceiling_tflops());
}

ordered_json part_json(const Measurement& m, const BenchResult& r) {
  auto out = measurement_json(m, r.ceiling_tflops());
  out["peak_rss_above_start_bytes"] = m.peak_rss_above_start;
  return out;
}

ordered_json ceiling_json(const BenchResult& r) {
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

std::string fixed(double value, int decimals) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(decimals) << value;
  return text.str();
}

void print_part(std::ostream& out, const std::string& name, const Measurement& m,
                const BenchResult& r) {
  const auto tera = [](double flops) { return fixed(flops / 1e12, 3); };
  out << std::left << std::setw(18) << name << std::right << std::setw(8) << tera(m.flops.total())
      << "  (" << tera(m.flops.convolution) << " / " << tera(m.flops.linear) << " / "
      << tera(m.flops.matmul) << ")" << std::setw(10) << fixed(m.median(), 3) << std::setw(9)
      << fixed(m.tflops(), 3) << std::setw(10) << fixed(100 * efficiency(m, r), 1) << "%"
      << std::setw(6) << m.seconds.size() << std::setw(10)
      << fixed(static_cast<double>(m.peak_rss_above_start) / (1ull << 30), 2) << "\n";
}

ordered_json profile_json(const OperatorProfile& p) {
  ordered_json operators = ordered_json::array();
  for (const auto& op : p.operators)
    operators.push_back({{"name", op.name}, {"calls", op.calls}, {"seconds", op.seconds}});
  return {{"seconds", p.seconds}, {"operators", operators}};
}

// The operators that took the most time, and what was left outside every operator.
void print_profile(std::ostream& out, const std::string& part, const OperatorProfile& p) {
  constexpr size_t kShown = 12;
  out << "\n" << part << ", one run of " << fixed(p.seconds, 3) << " s, by operator:\n";
  double in_operators = 0;
  for (size_t i = 0; i < p.operators.size(); ++i) {
    const auto& op = p.operators[i];
    in_operators += op.seconds;
    if (i >= kShown) continue;
    out << "  " << std::left << std::setw(40) << op.name << std::right << std::setw(9)
        << fixed(op.seconds, 3) << " s" << std::setw(7) << fixed(100 * op.seconds / p.seconds, 1)
        << "%" << std::setw(7) << op.calls << " calls\n";
  }
  out << "  " << std::left << std::setw(40) << "(outside any operator)" << std::right
      << std::setw(9) << fixed(p.seconds - in_operators, 3) << " s\n";
}

}  // namespace

ordered_json bench_json(const BenchResult& r) {
  const auto& o = r.options;
  ordered_json out = {{"arch", o.arch},           {"dtype", models::compute_dtype_name(o.dtype)},
                      {"width", o.width},         {"height", o.height},
                      {"steps", o.steps},         {"threads", r.threads},
                      {"runs", o.runs},           {"tiny", o.tiny},
                      {"tokenizer", r.tokenizer}, {"device", o.device.str()}};
  out["ceiling"] = ceiling_json(r);
  out["text_encode"] = part_json(r.text_encode, r);
  out["unet_step"] = part_json(r.unet_step, r);
  out["unet_cfg_step"] = part_json(r.unet_cfg_step, r);
  if (!r.unet_cfg_step_unfused.seconds.empty()) {
    out["unet_cfg_step_unfused_attention"] = part_json(r.unet_cfg_step_unfused, r);
    out["fused_attention_speedup"] = r.unet_cfg_step_unfused.median() / r.unet_cfg_step.median();
  }
  out["vae_decode"] = part_json(r.vae_decode, r);
  if (r.options.op_profile) {
    out["unet_cfg_step_profile"] = profile_json(r.unet_cfg_step_profile);
    out["vae_decode_profile"] = profile_json(r.vae_decode_profile);
  }
  out["preview_decode"] = part_json(r.preview_decode, r);
  out["image"] = part_json(r.image, r);
  out["checkpoint_load"] = {{"seconds", r.checkpoint_load.median()},
                            {"runs", r.checkpoint_load.seconds.size()},
                            {"all_seconds", r.checkpoint_load.seconds},
                            {"bytes", r.checkpoint_bytes}};
  out["loaded_rss_bytes"] = r.loaded_rss_bytes;
  out["load_peak_rss_bytes"] = r.load_peak_rss_bytes;
  out["inference_peak_rss_bytes"] = r.inference_peak_rss_bytes;
  out["peak_rss_bytes"] = r.peak_rss_bytes;
  out["peak_rss_scope"] = r.peak_rss_by_phase ? "load and inference" : "whole process";
  if (!o.device.is_cpu()) out["device_peak_bytes"] = r.device_peak_bytes;
  return out;
}

void print_bench_table(const BenchResult& r, std::ostream& out) {
  const auto& o = r.options;
  const auto& c = r.ceiling;
  const auto gib = [](double bytes) { return fixed(bytes / (1ull << 30), 2) + " GiB"; };
  out << "diffusiond bench: " << o.arch << (o.tiny ? " (tiny)" : "") << " " << o.width << "x"
      << o.height << " " << models::compute_dtype_name(o.dtype) << " on " << o.device.str() << ", "
      << r.threads << " threads, median of " << o.runs << " runs\n"
      << "ceiling TFLOP/s: bf16 conv " << fixed(c.conv_bf16, 3) << ", matmul "
      << fixed(c.matmul_bf16, 3) << "; fp32 conv " << fixed(c.conv_fp32, 3) << ", matmul "
      << fixed(c.matmul_fp32, 3) << "; efficiency is relative to " << fixed(r.ceiling_tflops(), 3)
      << "\n\n"
      << std::left << std::setw(18) << "part" << std::right << std::setw(8) << "TFLOP"
      << "  (conv / linear / matmul)  seconds  TFLOP/s  efficiency  runs  +GiB\n";
  print_part(out, "text_encode", r.text_encode, r);
  print_part(out, "unet_step", r.unet_step, r);
  print_part(out, "unet_cfg_step", r.unet_cfg_step, r);
  if (!r.unet_cfg_step_unfused.seconds.empty())
    print_part(out, "  unfused attn", r.unet_cfg_step_unfused, r);
  print_part(out, "vae_decode", r.vae_decode, r);
  print_part(out, "preview_decode", r.preview_decode, r);
  print_part(out, "image (" + std::to_string(o.steps) + " steps)", r.image, r);
  if (!r.unet_cfg_step_unfused.seconds.empty())
    out << "\nfused attention: guided step " +
               fixed(r.unet_cfg_step_unfused.median() / r.unet_cfg_step.median(), 2) +
               "x faster than with the unfused attention\n";
  if (o.op_profile) {
    print_profile(out, "unet_cfg_step", r.unet_cfg_step_profile);
    print_profile(out, "vae_decode", r.vae_decode_profile);
  }
  out << "\ncheckpoint load: " << gib(static_cast<double>(r.checkpoint_bytes)) << " in "
      << fixed(r.checkpoint_load.median(), 2) << " s (median of "
      << r.checkpoint_load.seconds.size() << ")\n"
      << "resident memory: peak " << gib(static_cast<double>(r.load_peak_rss_bytes))
      << " while loading, " << gib(static_cast<double>(r.loaded_rss_bytes)) << " loaded";
  if (r.peak_rss_by_phase)
    out << ", peak " << gib(static_cast<double>(r.inference_peak_rss_bytes)) << " running\n";
  else
    out << " (peaks of the whole process)\n";
}

double efficiency(const Measurement& m, double ceiling_tflops) {
  return ceiling_tflops > 0 ? m.tflops() / ceiling_tflops : 0;
}

nlohmann::ordered_json measurement_json(const Measurement& m, double ceiling_tflops) {
  return {{"flops", m.flops.total()},
          {"flops_by_kind",
           {{"convolution", m.flops.convolution},
            {"linear", m.flops.linear},
            {"matmul", m.flops.matmul}}},
          {"seconds", m.median()},
          {"runs", m.seconds.size()},
          {"all_seconds", m.seconds},
          {"tflops", m.tflops()},
          {"efficiency", efficiency(m, ceiling_tflops)}};
}

}  // namespace dd::bench
