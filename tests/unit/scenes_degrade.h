#pragma once
// Deterministic degradations for the analyser tests: the blur and noise a generated picture
// has and a clean rendering lacks.
#include <algorithm>
#include <cmath>

#include "io/image.h"
#include "scenes/rng.h"

namespace dd::scenes::test {

// 3x3 box blur with clamped edges.
inline io::Image box_blur(const io::Image& in) {
  io::Image out = in;
  for (int y = 0; y < in.height; ++y) {
    for (int x = 0; x < in.width; ++x) {
      for (int c = 0; c < 3; ++c) {
        int sum = 0;
        for (int dy = -1; dy <= 1; ++dy) {
          for (int dx = -1; dx <= 1; ++dx) {
            const int sx = std::clamp(x + dx, 0, in.width - 1);
            const int sy = std::clamp(y + dy, 0, in.height - 1);
            sum += in.rgb[(static_cast<size_t>(sy) * in.width + sx) * 3 + c];
          }
        }
        out.rgb[(static_cast<size_t>(y) * in.width + x) * 3 + c] =
            static_cast<uint8_t>((sum + 4) / 9);
      }
    }
  }
  return out;
}

// Per-channel noise, roughly Gaussian (sum of four uniforms) with standard deviation `sigma`.
inline io::Image add_noise(io::Image image, double sigma, uint64_t seed) {
  Rng rng(seed);
  // A sum of four U(-1, 1) has variance 4/3.
  const double scale = sigma / std::sqrt(4.0 / 3.0);
  for (uint8_t& value : image.rgb) {
    double n = 0;
    for (int i = 0; i < 4; ++i) n += rng.uniform(-1, 1);
    value = static_cast<uint8_t>(std::clamp(std::lround(value + n * scale), 0L, 255L));
  }
  return image;
}

// Blurred twice, then noise: what the analyser must still grade at >= 90%.
inline io::Image degrade(const io::Image& image, uint64_t seed) {
  return add_noise(box_blur(box_blur(image)), 10.0, seed);
}

}  // namespace dd::scenes::test
