#include "io/image_resize.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "util/error.h"

namespace dd::io {

namespace {

// The source pixels and weights (summing to 1) that make one output pixel along one axis.
struct Taps {
  int first = 0;
  std::vector<float> weights;
};

// Area averaging: output pixel o covers source interval [o*scale, (o+1)*scale).
Taps area_taps(int out, double scale, int source_size) {
  const double begin = out * scale;
  const double end = std::min((out + 1) * scale, static_cast<double>(source_size));
  Taps taps;
  taps.first = static_cast<int>(std::floor(begin));
  const int last = std::min(source_size - 1, static_cast<int>(std::ceil(end)) - 1);
  for (int i = taps.first; i <= last; ++i) {
    const double overlap = std::min(end, i + 1.0) - std::max(begin, static_cast<double>(i));
    taps.weights.push_back(static_cast<float>(std::max(0.0, overlap) / (end - begin)));
  }
  return taps;
}

// Bilinear: the output pixel's centre mapped into source pixel-centre coordinates, clamped.
Taps bilinear_taps(int out, double scale, int source_size) {
  const double centre = std::clamp((out + 0.5) * scale - 0.5, 0.0, source_size - 1.0);
  Taps taps;
  taps.first = static_cast<int>(std::floor(centre));
  const double fraction = centre - taps.first;
  taps.weights.push_back(static_cast<float>(1.0 - fraction));
  if (taps.first + 1 < source_size) taps.weights.push_back(static_cast<float>(fraction));
  return taps;
}

std::vector<Taps> axis_taps(int source_size, int target_size) {
  const double scale = static_cast<double>(source_size) / target_size;
  std::vector<Taps> all(target_size);
  for (int o = 0; o < target_size; ++o)
    all[o] = scale > 1.0 ? area_taps(o, scale, source_size) : bilinear_taps(o, scale, source_size);
  return all;
}

uint8_t to_byte(float value) {
  return static_cast<uint8_t>(std::clamp(std::lround(value), 0L, 255L));
}

// Resamples rows (horizontal pass) keeping float precision for the second pass.
std::vector<float> resize_rows(const Image& image, int width) {
  const auto taps = axis_taps(image.width, width);
  std::vector<float> out(static_cast<size_t>(width) * image.height * 3);
  for (int y = 0; y < image.height; ++y) {
    const uint8_t* row = image.rgb.data() + static_cast<size_t>(y) * image.width * 3;
    float* target = out.data() + static_cast<size_t>(y) * width * 3;
    for (int x = 0; x < width; ++x) {
      float sum[3] = {0, 0, 0};
      for (size_t k = 0; k < taps[x].weights.size(); ++k) {
        const uint8_t* pixel = row + static_cast<size_t>(taps[x].first + k) * 3;
        for (int c = 0; c < 3; ++c) sum[c] += taps[x].weights[k] * pixel[c];
      }
      for (int c = 0; c < 3; ++c) target[x * 3 + c] = sum[c];
    }
  }
  return out;
}

Image resize_columns(const std::vector<float>& rows, int width, int source_height, int height) {
  const auto taps = axis_taps(source_height, height);
  Image out{width, height, std::vector<uint8_t>(static_cast<size_t>(width) * height * 3)};
  const size_t stride = static_cast<size_t>(width) * 3;
  for (int y = 0; y < height; ++y) {
    uint8_t* target = out.rgb.data() + y * stride;
    for (size_t i = 0; i < stride; ++i) {
      float sum = 0;
      for (size_t k = 0; k < taps[y].weights.size(); ++k)
        sum += taps[y].weights[k] * rows[(taps[y].first + k) * stride + i];
      target[i] = to_byte(sum);
    }
  }
  return out;
}

void check_side(int side, const char* name) {
  if (side < 1 || side > kMaxImageSide)
    throw Error(std::string(name) + ": " + std::to_string(side) + " is outside 1.." +
                std::to_string(kMaxImageSide));
}

}  // namespace

Image resize_image(const Image& image, int width, int height) {
  check_side(width, "width");
  check_side(height, "height");
  if (image.width <= 0 || image.height <= 0 ||
      image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3)
    throw Error("resize: image size and pixel buffer disagree");
  if (width == image.width && height == image.height) return image;
  return resize_columns(resize_rows(image, width), width, image.height, height);
}

}  // namespace dd::io
