// attention_bench: the fused attention kernel against the matmul + softmax reference and against
// LibTorch's own at::scaled_dot_product_attention, on the attention shapes of a UNet step and a
// VAE decode (see bench/README.md). Prints one JSON object per shape and dtype.
// Usage: attention_bench [--threads N] [--runs N] [--dtype bf16|fp32] [--shape NAME]
// [--fused-only] (times only the fused kernel, for quick iterations on it)
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "models/attention.h"
#include "models/fused_attention.h"

namespace {

struct Shape {
  const char* name;
  int64_t batch, heads, tokens, dim;
  int64_t keys = 0;  // 0: self-attention (as many keys as tokens)
};

// Batch 2: one guided step (classifier-free guidance runs the UNet on two latents).
const Shape kShapes[] = {
    {"sd15_64x64_self", 2, 8, 4096, 40},       // SD 1.5 at 512x512, the first level
    {"sd15_32x32_self", 2, 8, 1024, 80},       // its second level
    {"sd15_16x16_self", 2, 8, 256, 160},       // its third level
    {"sd15_64x64_cross", 2, 8, 4096, 40, 77},  // the prompt's 77 tokens as keys
    {"sdxl_64x64_self", 2, 10, 4096, 64},      // SDXL at 1024x1024, the second level
    {"sdxl_32x32_self", 2, 20, 1024, 64},      // its third level
    {"vae_64x64_mid", 1, 1, 4096, 512},        // the VAE decoder's mid-block at 512x512
};

using Attention = torch::Tensor (*)(const torch::Tensor&, const torch::Tensor&,
                                    const torch::Tensor&, double);

torch::Tensor fused(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                    double scale) {
  return dd::models::fused_attention(q, k, v, scale);
}

torch::Tensor sdpa(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                   double scale) {
  return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0,
                                          /*is_causal=*/false, scale);
}

// Median seconds of `runs` calls, after one untimed call that warms caches and the allocator.
double median_seconds(Attention f, const torch::Tensor& q, const torch::Tensor& k,
                      const torch::Tensor& v, double scale, int runs) {
  f(q, k, v, scale);
  std::vector<double> seconds;
  for (int i = 0; i < runs; ++i) {
    const auto start = std::chrono::steady_clock::now();
    f(q, k, v, scale);
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  return seconds[seconds.size() / 2];
}

void measure(const Shape& s, torch::ScalarType type, int runs, bool fused_only) {
  auto generator = at::detail::createCPUGenerator(1);
  const int64_t keys = s.keys > 0 ? s.keys : s.tokens;
  const auto q = torch::randn({s.batch, s.heads, s.tokens, s.dim}, generator).to(type);
  const auto k = torch::randn({s.batch, s.heads, keys, s.dim}, generator).to(type);
  const auto v = torch::randn({s.batch, s.heads, keys, s.dim}, generator).to(type);
  const double scale = 1.0 / std::sqrt(static_cast<double>(s.dim));
  const double reference =
      fused_only ? 0.0 : median_seconds(dd::models::reference_attention, q, k, v, scale, runs);
  const double fused_s = median_seconds(fused, q, k, v, scale, runs);
  const double sdpa_s = fused_only ? 0.0 : median_seconds(sdpa, q, k, v, scale, runs);
  // Accuracy of both against float32 from the same inputs, to show the speed costs none.
  const auto truth = dd::models::reference_attention(q.to(torch::kFloat32), k.to(torch::kFloat32),
                                                     v.to(torch::kFloat32), scale);
  const auto error = [&truth](const torch::Tensor& x) {
    return (x.to(torch::kFloat32) - truth).abs().max().item<double>();
  };
  const double flops = 4.0 * s.batch * s.heads * s.tokens * keys * s.dim;
  std::cout << "{\"shape\": \"" << s.name << "\", \"dtype\": \""
            << (type == torch::kBFloat16 ? "bf16" : "fp32")
            << "\", \"threads\": " << at::get_num_threads() << ", \"runs\": " << runs;
  if (!fused_only)
    std::cout << ", \"reference_seconds\": " << reference
              << ", \"speedup\": " << reference / fused_s
              << ", \"reference_tflops\": " << flops / reference / 1e12
              << ", \"reference_max_abs_error\": "
              << error(dd::models::reference_attention(q, k, v, scale))
              << ", \"sdpa_seconds\": " << sdpa_s << ", \"sdpa_tflops\": " << flops / sdpa_s / 1e12
              << ", \"sdpa_max_abs_error\": " << error(sdpa(q, k, v, scale))
              << ", \"fused_over_sdpa\": " << sdpa_s / fused_s << ", \"engine_uses\": \""
              << dd::models::cpu_attention_choice(q, k, v, scale) << "\"";
  std::cout << ", \"fused_seconds\": " << fused_s
            << ", \"fused_tflops\": " << flops / fused_s / 1e12
            << ", \"fused_max_abs_error\": " << error(fused(q, k, v, scale))
            << ", \"avx512\": " << (dd::models::avx512_attention_available() ? "true" : "false")
            << "}" << std::endl;
}

bool flag(int argc, char** argv, const char* name) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return true;
  return false;
}

const char* text_option(int argc, char** argv, const char* name) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  return nullptr;
}

int int_option(int argc, char** argv, const char* name, int fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::max(1, std::atoi(argv[i + 1]));
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  torch::NoGradGuard no_grad;
  // All cores unless told (LibTorch's own default may differ from nproc; see DESIGN.md).
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  at::set_num_threads(int_option(argc, argv, "--threads", std::max(1, cores)));
  const int runs = int_option(argc, argv, "--runs", 3);
  const bool fused_only = flag(argc, argv, "--fused-only");
  const char* dtype = text_option(argc, argv, "--dtype");
  const char* only_shape = text_option(argc, argv, "--shape");
  for (const auto& shape : kShapes)
    if (!only_shape || std::strcmp(only_shape, shape.name) == 0)
      for (const auto type : {torch::kBFloat16, torch::kFloat32}) {
        const bool bf16 = type == torch::kBFloat16;
        if (dtype && std::strcmp(dtype, bf16 ? "bf16" : "fp32") != 0) continue;
        measure(shape, type, runs, fused_only);
      }
}
