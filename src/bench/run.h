#pragma once
// `diffusiond bench`: how fast the engine runs a real-sized model on this machine, and how far
// that is from what the machine can do. The model is a built-in preset with random weights,
// written once as a single-file checkpoint and loaded through pipeline::DiffusionModel::load,
// so every part runs exactly as it does for a downloaded checkpoint.
#include <torch/torch.h>

#include <cstdint>
#include <ostream>
#include <string>

#include "bench/ceiling.h"
#include "bench/measure.h"
#include "bench/op_profiler.h"

namespace dd::bench {

struct BenchOptions {
  std::string arch = "sd15";  // a preset: sd15, sd21, sdxl
  int width = 0;              // 0: the preset's default size
  int height = 0;
  int steps = 20;  // of the whole image
  torch::ScalarType dtype = torch::kFloat32;
  torch::Device device = torch::kCPU;  // ceiling and model parts run here
  int runs = 3;               // timed runs of the ceiling, text encoding, UNet steps and VAE decode
  int image_runs = 1;         // timed whole images
  int load_runs = 1;          // timed checkpoint loads
  std::string tokenizer_dir;  // CLIP vocab.json + merges.txt; "" = a byte-level stand-in
  std::string work_dir;       // where the checkpoint is written; "" = the system's temp dir
  bool tiny = false;          // a narrow model of the preset's structure (tests of the tool)
  bool unfused_baseline = false;  // also time the guided step with the unfused attention
  bool op_profile = false;        // also profile the guided step and the VAE decode by operator
};

struct BenchResult {
  BenchOptions options;  // with the size resolved
  int threads = 0;
  std::string tokenizer;      // the folder used, or "stand-in"
  Ceiling ceiling;            // the better of one measurement before and one after the model parts
  Measurement text_encode;    // one prompt through every text encoder, tokenizer included
  Measurement unet_step;      // one UNet forward, batch 1 (no guidance)
  Measurement unet_cfg_step;  // one UNet forward, batch 2 (classifier-free guidance)
  Measurement unet_cfg_step_unfused;  // the same with the unfused attention (if asked for)
  Measurement vae_decode;             // latents to one image
  OperatorProfile unet_cfg_step_profile, vae_decode_profile;  // (if asked for)
  Measurement preview_decode;  // the same latents through a TAESD-style tiny decoder
  Measurement image;           // pipeline::generate: both prompts, `steps` guided steps, decode
  Measurement checkpoint_load;
  uint64_t checkpoint_bytes = 0;
  int64_t loaded_rss_bytes = 0;          // resident right after loading
  int64_t load_peak_rss_bytes = 0;       // the most resident while loading
  int64_t inference_peak_rss_bytes = 0;  // ... while running the parts (0: not measurable)
  int64_t peak_rss_bytes = 0;            // the larger of the two
  int64_t device_peak_bytes = 0;         // on a CUDA device: the most its tensors held
  // Whether the kernel let the peak be reset between phases; without that the peaks also count
  // the tool's own checkpoint writing (the whole process).
  bool peak_rss_by_phase = false;

  // TFLOP/s the efficiencies are relative to: the ceiling in the run's dtype.
  double ceiling_tflops() const { return ceiling.best(options.dtype); }
};

// Runs every measurement, writing what it is doing to `log` (the figures are the result).
// Bad options (unknown preset, size not a multiple of 8) are a dd::Error.
BenchResult run_bench(const BenchOptions& options, std::ostream& log);

}  // namespace dd::bench
