#include "models/t5_keys.h"

#include <array>

#include "models/component_files.h"
#include "util/error.h"

namespace dd::models {

namespace {

constexpr const char* kShared = "shared.weight";
constexpr const char* kEmbedTokens = "encoder.embed_tokens.weight";
// Present in every T5 encoder and in nothing else a FLUX or SD3 file holds.
constexpr const char* kMarker = "encoder.final_layer_norm.weight";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void refuse_scaled_fp8(const io::SafetensorsFile& file, const std::string& prefix) {
  if (file.contains(prefix + "scaled_fp8") || file.contains("scaled_fp8"))
    throw Error(file.path() +
                ": a \"scaled fp8\" T5 file (per-tensor scale_weight factors) is not supported; "
                "use t5xxl_fp16 or t5xxl_fp8_e4m3fn");
  for (const auto& entry : file.entries())
    if (entry.name.compare(0, prefix.size(), prefix) == 0 && ends_with(entry.name, ".scale_weight"))
      throw Error(file.path() + ": tensor '" + entry.name +
                  "' is a scaled-fp8 factor; scaled fp8 T5 files are not supported");
}

}  // namespace

std::string t5_key_prefix(const io::SafetensorsFile& file) {
  static const std::array<std::string, 2> prefixes{"", "text_encoders.t5xxl.transformer."};
  for (const auto& prefix : prefixes) {
    if (!file.contains(prefix + kMarker)) continue;
    refuse_scaled_fp8(file, prefix);
    return prefix;
  }
  throw Error(file.path() + ": no T5 encoder in this file (no '" + std::string(kMarker) +
              "', bare or under 'text_encoders.t5xxl.transformer.')");
}

std::unique_ptr<WeightSource> t5_encoder_weights(std::shared_ptr<const io::SafetensorsFile> file,
                                                 const std::string& prefix) {
  const bool shared_stored = file->contains(prefix + kShared);
  const bool embed_stored = file->contains(prefix + kEmbedTokens);
  KeyRename rename = nullptr;
  if (!shared_stored && embed_stored)
    rename = [](const std::string& name) {
      return name == kShared ? std::string(kEmbedTokens) : name;
    };
  return std::make_unique<FileWeights>(std::move(file), prefix, std::move(rename));
}

std::unique_ptr<WeightSource> t5_encoder_weights(
    const std::vector<std::shared_ptr<const io::SafetensorsFile>>& shards) {
  if (shards.size() == 1) return t5_encoder_weights(shards.front(), t5_key_prefix(*shards.front()));
  bool shared_stored = false, embed_stored = false;
  for (const auto& file : shards) {
    shared_stored = shared_stored || file->contains(kShared);
    embed_stored = embed_stored || file->contains(kEmbedTokens);
  }
  KeyRename rename = nullptr;
  if (!shared_stored && embed_stored)
    rename = [](const std::string& name) {
      return name == kShared ? std::string(kEmbedTokens) : name;
    };
  return std::make_unique<MultiFileWeights>(shards, "", std::move(rename));
}

}  // namespace dd::models
