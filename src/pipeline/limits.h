#pragma once
// The engine's limits on request parameters, declared once: validate_params (request.cpp)
// enforces them and the HTTP field tables take their shared ranges from here.
#include <cstddef>
#include <cstdint>

namespace dd::pipeline::limits {

inline constexpr int kMaxSide = 4096;  // pixels, width and height
inline constexpr int kMaxSteps = 500;
inline constexpr double kMaxCfg = 50;
inline constexpr int kMaxSamples = 4;
inline constexpr int kMaxClipSkip = 12;      // CLIP ViT-L has 12 layers
inline constexpr double kMaxGuidance = 100;  // FLUX distilled guidance; the models use 1..10
inline constexpr double kMaxTrueCfg = 30;
inline constexpr int kMaxSequenceLength = 512;  // T5 tokens FLUX was trained with (dev)
inline constexpr size_t kMaxPromptLength = 20000;
inline constexpr int kMaxMicroPixels = 16384;  // SDXL micro-conditioning sizes
inline constexpr size_t kMaxLoras = 8;
// Seeds are exact in every JSON parser up to 2^53 - 1.
inline constexpr int64_t kMaxSeed = (int64_t(1) << 53) - 1;

}  // namespace dd::pipeline::limits
