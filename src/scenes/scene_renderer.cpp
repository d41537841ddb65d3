#include "scenes/scene_renderer.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "util/error.h"

namespace dd::scenes {
namespace {

// 4x4 samples per pixel: edges get 17 coverage levels, enough that a shape's outline is
// smooth at 64x64 and a model is not taught staircase edges.
constexpr int kSubsamples = 4;

void check_size(int size) {
  if (size < 32 || size > 256 || size % 8 != 0)
    throw Error("scene size must be a multiple of 8 from 32 to 256, got " + std::to_string(size));
}

void fill(io::Image& image, Rgb colour) {
  for (size_t i = 0; i < image.rgb.size(); i += 3) {
    image.rgb[i] = colour.r;
    image.rgb[i + 1] = colour.g;
    image.rgb[i + 2] = colour.b;
  }
}

// Fraction of the pixel (px, py) covered by the object.
double coverage(const SceneObject& object, Shape shape, int size, int px, int py) {
  int inside = 0;
  for (int sy = 0; sy < kSubsamples; ++sy) {
    for (int sx = 0; sx < kSubsamples; ++sx) {
      const double x = (px + (sx + 0.5) / kSubsamples) / size;
      const double y = (py + (sy + 0.5) / kSubsamples) / size;
      inside += shape_contains(shape, (x - object.cx) / object.half_side,
                               (y - object.cy) / object.half_side);
    }
  }
  return static_cast<double>(inside) / (kSubsamples * kSubsamples);
}

uint8_t blend(uint8_t under, uint8_t over, double alpha) {
  return static_cast<uint8_t>(std::lround(under + (over - under) * alpha));
}

// Objects never overlap, so each one blends over the background independently.
void draw(io::Image& image, const SceneObject& object, Shape shape, Rgb colour) {
  const int size = image.width;
  const int x0 = std::max(0, static_cast<int>(std::floor(object.left() * size)));
  const int x1 = std::min(size - 1, static_cast<int>(std::ceil(object.right() * size)));
  const int y0 = std::max(0, static_cast<int>(std::floor(object.top() * size)));
  const int y1 = std::min(size - 1, static_cast<int>(std::ceil(object.bottom() * size)));
  for (int py = y0; py <= y1; ++py) {
    for (int px = x0; px <= x1; ++px) {
      const double alpha = coverage(object, shape, size, px, py);
      if (alpha == 0) continue;
      uint8_t* p = &image.rgb[(static_cast<size_t>(py) * size + px) * 3];
      p[0] = blend(p[0], colour.r, alpha);
      p[1] = blend(p[1], colour.g, alpha);
      p[2] = blend(p[2], colour.b, alpha);
    }
  }
}

}  // namespace

io::Image render(const Scene& scene, int size) {
  check_size(size);
  io::Image image{size, size, std::vector<uint8_t>(static_cast<size_t>(size) * size * 3)};
  fill(image, colour_rgb(scene.background));
  for (const SceneObject& object : scene.objects)
    draw(image, object, scene.shape, colour_rgb(scene.colour));
  return image;
}

}  // namespace dd::scenes
