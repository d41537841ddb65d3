#pragma once
// The scene model's own tokenizer: a byte-level BPE in CLIP's format trained on the captions,
// so every caption word is one token (and any other text still tokenizes, byte by byte).
#include <string>

#include "text/clip_tokenizer.h"
#include "training/scene_model_config.h"

namespace dd::training {

// Writes vocab.json, merges.txt and the token maps into `dir`; deterministic.
void build_scene_tokenizer(const std::string& dir);
// The vocabulary size and special ids the text encoder is built for.
SceneModelTokens scene_model_tokens(const text::ClipTokenizer& tokenizer);

}  // namespace dd::training
