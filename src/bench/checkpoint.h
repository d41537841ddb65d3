#pragma once
// A checkpoint with random weights for any architecture, so the benchmark needs no download:
// weight values do not change the speed of a forward pass.
#include <cstdint>
#include <string>

#include "models/config.h"

namespace dd::bench {

// Builds `config`'s UNet, VAE and text encoders with random weights and writes them as one
// single-file checkpoint in the layout of the real releases, so pipeline::DiffusionModel::load
// reads it exactly as it reads a downloaded one (and detects the preset from its keys): the UNet
// under `model.diffusion_model.` with LDM/SGM block names, the VAE under `first_stage_model.`,
// each text encoder under its single_file_prefix (transformers names, or OpenCLIP's with a fused
// q|k|v for SDXL's second). Modules are built and stored in bf16: half the memory and disk of
// fp32 (an SDXL checkpoint is 7 GB instead of 14), and the loader converts as it does for the
// fp16/bf16 files people download. Returns the file's size in bytes.
uint64_t write_random_checkpoint(const models::ModelConfig& config, const std::string& path);

}  // namespace dd::bench
