#pragma once
// The machine's achievable throughput, measured in the same run as the model so that a busy
// machine lowers both: one large convolution (by default 2x640x64x64, 3x3, 640 out: a UNet
// convolution at 512x512) and one large matrix product (4096x4096 by 4096x4096), in bf16 and in
// fp32, each in the layout the engine computes in (channels-last for bf16 convolutions, NCHW for
// fp32). Each timed run repeats the operation for at least min_run_seconds: on a shared machine a
// 30 ms convolution is hit far harder by other processes (its threads wait for each other at
// every time slice) than a model part of seconds, which would make the ceiling look low.
#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace dd::bench {

struct CeilingShapes {
  int64_t conv_batch = 2;
  int64_t conv_channels = 640;  // in and out
  int64_t conv_size = 64;       // height and width, 3x3 kernel, padding 1
  int64_t matmul_size = 4096;   // square
  double min_run_seconds = 1.0;

  std::string conv_text() const;    // "2x640x64x64 3x3 -> 640"
  std::string matmul_text() const;  // "4096x4096 @ 4096x4096"
};

struct Ceiling {
  CeilingShapes shapes;
  // TFLOP/s, medians of the timed runs.
  double conv_bf16 = 0;
  double conv_fp32 = 0;
  double matmul_bf16 = 0;
  double matmul_fp32 = 0;

  // The better of convolution and matrix product in `dtype` (fp16: the bf16 figures, the same
  // tensor-core rate on the GPUs we target): what efficiency is relative to.
  double best(torch::ScalarType dtype) const;
};

Ceiling measure_ceiling(int runs, const CeilingShapes& shapes = {},
                        const torch::Device& device = torch::kCPU);

// Each figure the higher of the two: the machine's best during a run that measured it twice.
Ceiling better_of(const Ceiling& a, const Ceiling& b);

}  // namespace dd::bench
