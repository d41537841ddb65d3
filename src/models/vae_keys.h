#pragma once
// Where the VAE's weights live in original (LDM) single-file checkpoints. The module uses
// diffusers' names; LDM names its levels `down.i` / `up.j` (the decoder's counted from the
// lowest resolution, i.e. in reverse), its ResNet shortcut `nin_shortcut` and its mid-block
// `block_1` / `attn_1` / `block_2`.
#include <memory>
#include <string>

#include "io/safetensors.h"
#include "models/config.h"
#include "models/weights.h"

namespace dd::models {

// The VAE's prefix inside an SD1/SD2/SDXL single-file checkpoint.
inline const char* const kVaeSingleFilePrefix = "first_stage_model.";

// LDM name (no prefix) of a diffusers AutoencoderKL parameter name, e.g.
// "decoder.up_blocks.0.upsamplers.0.conv.weight" -> "decoder.up.3.upsample.conv.weight" for a
// 4-level VAE. A name of no AutoencoderKL part is a dd::Error.
std::string vae_ldm_name(const std::string& diffusers_name, const VaeConfig& config);

// The full key in a single-file checkpoint: kVaeSingleFilePrefix + vae_ldm_name(...).
std::string vae_single_file_key(const std::string& diffusers_name, const VaeConfig& config);

// The VAE weights of an LDM-layout file under `prefix` (kVaeSingleFilePrefix for a whole
// checkpoint, "" for a standalone LDM VAE file).
std::unique_ptr<WeightSource> vae_ldm_weights(std::shared_ptr<const io::SafetensorsFile> file,
                                              const VaeConfig& config,
                                              const std::string& prefix = kVaeSingleFilePrefix);

// The parts of a VaeConfig that an LDM-layout file's keys and shapes fix: block_out_channels,
// layers_per_block, latent_channels, in/out channels and whether quant_conv / post_quant_conv
// exist (Black Forest Labs' ae.safetensors for FLUX: keys without prefix, 16 latent channels,
// neither conv). The rest (norm groups, scaling and shift factors) comes from `base`. A file
// without the VAE's keys under `prefix` is a dd::Error.
VaeConfig vae_config_from_ldm_keys(const io::SafetensorsFile& file, const std::string& prefix,
                                   VaeConfig base);

}  // namespace dd::models
