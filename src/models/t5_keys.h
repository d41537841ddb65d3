#pragma once
// Where a T5 encoder's weights are in a safetensors file. Every known layout uses transformers'
// names (`shared.weight`, `encoder.block.N.layer.0.SelfAttention.q.weight`, ...):
//  - diffusers' text_encoder_2/model.safetensors and ComfyUI's t5xxl_fp16 / t5xxl_fp8_e4m3fn
//    files: no prefix;
//  - all-in-one checkpoints (ComfyUI-saved FLUX or SD3 files): `text_encoders.t5xxl.transformer.`.
// Some files store the embedding as `encoder.embed_tokens.weight` (the tied copy of
// `shared.weight`) or carry both; either is accepted.
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "models/weights.h"

namespace dd::models {

// The prefix of the T5 encoder's keys in `file` (one of the layouts above); a dd::Error naming
// the file when it holds no T5 encoder. ComfyUI's "scaled fp8" files (a `scaled_fp8` marker and
// per-tensor `scale_weight` factors) are refused: read as plain fp8 their weights would be
// silently wrong.
std::string t5_key_prefix(const io::SafetensorsFile& file);

// A source for T5EncoderImpl's parameter names, reading the keys after `prefix` in `file`.
std::unique_ptr<WeightSource> t5_encoder_weights(std::shared_ptr<const io::SafetensorsFile> file,
                                                 const std::string& prefix = "");
// The same over the shards of a diffusers text_encoder_2/ folder (no prefix).
std::unique_ptr<WeightSource> t5_encoder_weights(
    const std::vector<std::shared_ptr<const io::SafetensorsFile>>& shards);

}  // namespace dd::models
