#include "bench/ceiling.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "bench/measure.h"
#include "models/device.h"
#include "pipeline/compute_layout.h"

namespace dd::bench {

namespace {

// TFLOP/s of `op` with each timed run repeating it for about min_run_seconds (the counting
// run is also the warm-up that times one operation).
double repeated_tflops(const CeilingShapes& s, int runs, const std::function<void()>& op) {
  const Measurement once = measure(1, op);
  const double seconds = std::max(once.median(), 1e-6);
  const int repeats = std::max(1, static_cast<int>(std::ceil(s.min_run_seconds / seconds)));
  Measurement m = time_runs(runs, [&] {
    for (int i = 0; i < repeats; ++i) op();
  });
  m.flops = static_cast<double>(repeats) * once.flops;
  return m.tflops();
}

double conv_tflops(const CeilingShapes& s, torch::ScalarType dtype, int runs,
                   const torch::Device& device) {
  // In the engine's layout (channels-last for 16-bit convolutions), as the model's parts run.
  const auto x = pipeline::in_compute_layout(
      torch::randn({s.conv_batch, s.conv_channels, s.conv_size, s.conv_size}), dtype, device);
  const auto w = pipeline::in_compute_layout(
      torch::randn({s.conv_channels, s.conv_channels, 3, 3}) * 0.02, dtype, device);
  return repeated_tflops(s, runs, [&] {
    torch::conv2d(x, w, {}, 1, 1);
    models::synchronize(device);
  });
}

double matmul_tflops(const CeilingShapes& s, torch::ScalarType dtype, int runs,
                     const torch::Device& device) {
  const auto a = torch::randn({s.matmul_size, s.matmul_size}).to(device, dtype);
  const auto b = torch::randn({s.matmul_size, s.matmul_size}).to(device, dtype);
  return repeated_tflops(s, runs, [&] {
    torch::matmul(a, b);
    models::synchronize(device);
  });
}

}  // namespace

std::string CeilingShapes::conv_text() const {
  const auto size = std::to_string(conv_size), channels = std::to_string(conv_channels);
  return std::to_string(conv_batch) + "x" + channels + "x" + size + "x" + size + " 3x3 -> " +
         channels;
}

std::string CeilingShapes::matmul_text() const {
  const auto side = std::to_string(matmul_size) + "x" + std::to_string(matmul_size);
  return side + " @ " + side;
}

double Ceiling::best(torch::ScalarType dtype) const {
  return dtype != torch::kFloat32 ? std::max(conv_bf16, matmul_bf16)
                                  : std::max(conv_fp32, matmul_fp32);
}

Ceiling measure_ceiling(int runs, const CeilingShapes& shapes, const torch::Device& device) {
  torch::NoGradGuard no_grad;
  Ceiling c;
  c.shapes = shapes;
  c.conv_bf16 = conv_tflops(shapes, torch::kBFloat16, runs, device);
  c.conv_fp32 = conv_tflops(shapes, torch::kFloat32, runs, device);
  c.matmul_bf16 = matmul_tflops(shapes, torch::kBFloat16, runs, device);
  c.matmul_fp32 = matmul_tflops(shapes, torch::kFloat32, runs, device);
  return c;
}

Ceiling better_of(const Ceiling& a, const Ceiling& b) {
  Ceiling c = a;
  c.conv_bf16 = std::max(a.conv_bf16, b.conv_bf16);
  c.conv_fp32 = std::max(a.conv_fp32, b.conv_fp32);
  c.matmul_bf16 = std::max(a.matmul_bf16, b.matmul_bf16);
  c.matmul_fp32 = std::max(a.matmul_fp32, b.matmul_fp32);
  return c;
}

}  // namespace dd::bench
