#include "scenes/shape_classifier.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <vector>

namespace dd::scenes {
namespace {

constexpr int kPad = 4;         // pixels around the blob: room for blurred edges
constexpr int kMaxBlur = 3;     // 3x3 box passes tried on each template
constexpr int kSubsamples = 4;  // per pixel side, when drawing a template

// The area (as a fraction of its box) and centroid of a shape in unit-box coordinates.
struct ShapeMoments {
  double area = 0, cu = 0, cv = 0;
};

ShapeMoments measure(Shape shape) {
  constexpr int kGrid = 256;
  ShapeMoments m;
  for (int j = 0; j < kGrid; ++j) {
    for (int i = 0; i < kGrid; ++i) {
      const double u = (i + 0.5) / kGrid * 2 - 1, v = (j + 0.5) / kGrid * 2 - 1;
      if (!shape_contains(shape, u, v)) continue;
      m.area += 1;
      m.cu += u;
      m.cv += v;
    }
  }
  m.cu /= m.area;
  m.cv /= m.area;
  m.area /= kGrid * kGrid;
  return m;
}

const ShapeMoments& moments(Shape shape) {
  static const std::array<ShapeMoments, kShapeCount> table = [] {
    std::array<ShapeMoments, kShapeCount> t;
    for (int i = 0; i < kShapeCount; ++i) t[i] = measure(static_cast<Shape>(i));
    return t;
  }();
  return table[static_cast<int>(shape)];
}

// The soft map of one blob over its padded bounding box. Pixels of other blobs are left out.
struct Window {
  int x0 = 0, y0 = 0, width = 0, height = 0;
  std::vector<double> soft;
  std::vector<uint8_t> valid;
  double mass = 0, mx = 0, my = 0, aspect = 1, energy = 0;
};

Window window_of(const io::Image& image, const Segmentation& seg, size_t index) {
  const Component& c = seg.components[index];
  Window w;
  w.x0 = std::max(0, c.x0 - kPad);
  w.y0 = std::max(0, c.y0 - kPad);
  w.width = std::min(image.width - 1, c.x1 + kPad) - w.x0 + 1;
  w.height = std::min(image.height - 1, c.y1 + kPad) - w.y0 + 1;
  w.aspect = static_cast<double>(c.x1 - c.x0 + 1) / (c.y1 - c.y0 + 1);
  double fg[3];
  object_rgb(image, seg, c, fg);
  const double dir[3] = {fg[0] - seg.background[0], fg[1] - seg.background[1],
                         fg[2] - seg.background[2]};
  const double norm2 = std::max(1.0, dir[0] * dir[0] + dir[1] * dir[1] + dir[2] * dir[2]);
  w.soft.assign(static_cast<size_t>(w.width) * w.height, 0);
  w.valid.assign(w.soft.size(), 0);
  for (int y = 0; y < w.height; ++y) {
    for (int x = 0; x < w.width; ++x) {
      const int index_in_image = (w.y0 + y) * image.width + (w.x0 + x);
      const int label = seg.label[index_in_image];
      if (label != -1 && label != static_cast<int>(index)) continue;
      const uint8_t* p = &image.rgb[static_cast<size_t>(index_in_image) * 3];
      double f = 0;
      for (int ch = 0; ch < 3; ++ch) f += (p[ch] - seg.background[ch]) * dir[ch];
      f /= norm2;
      const size_t i = static_cast<size_t>(y) * w.width + x;
      w.soft[i] = f;
      w.valid[i] = 1;
      w.mass += f;
      w.mx += f * (x + 0.5);
      w.my += f * (y + 0.5);
      w.energy += f * f;
    }
  }
  w.mx /= w.mass;
  w.my /= w.mass;
  return w;
}

// The template of `shape` with the blob's mass and centroid, at pixel resolution.
std::vector<double> draw_template(const Window& w, Shape shape) {
  const ShapeMoments& m = moments(shape);
  const double box_area = w.mass / (4 * m.area);  // half width * half height
  const double hw = std::sqrt(box_area * w.aspect), hh = std::sqrt(box_area / w.aspect);
  const double bx = w.mx - m.cu * hw, by = w.my - m.cv * hh;
  std::vector<double> t(w.soft.size());
  for (int y = 0; y < w.height; ++y) {
    for (int x = 0; x < w.width; ++x) {
      int inside = 0;
      for (int sy = 0; sy < kSubsamples; ++sy)
        for (int sx = 0; sx < kSubsamples; ++sx)
          inside += shape_contains(shape, (x + (sx + 0.5) / kSubsamples - bx) / hw,
                                   (y + (sy + 0.5) / kSubsamples - by) / hh);
      t[static_cast<size_t>(y) * w.width + x] =
          static_cast<double>(inside) / (kSubsamples * kSubsamples);
    }
  }
  return t;
}

// One 3x3 box pass; outside the window counts as background.
std::vector<double> box_blur(const std::vector<double>& in, int width, int height) {
  std::vector<double> out(in.size());
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      double sum = 0;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx)
          if (x + dx >= 0 && y + dy >= 0 && x + dx < width && y + dy < height)
            sum += in[static_cast<size_t>(y + dy) * width + (x + dx)];
      out[static_cast<size_t>(y) * width + x] = sum / 9;
    }
  }
  return out;
}

double squared_error(const Window& w, const std::vector<double>& t) {
  double error = 0;
  for (size_t i = 0; i < t.size(); ++i)
    if (w.valid[i]) error += (w.soft[i] - t[i]) * (w.soft[i] - t[i]);
  return error;
}

double residual(const Window& w, Shape shape) {
  if (w.mass <= 0) return std::numeric_limits<double>::max();
  std::vector<double> t = draw_template(w, shape);
  double best = squared_error(w, t);
  for (int pass = 0; pass < kMaxBlur; ++pass) {
    t = box_blur(t, w.width, w.height);
    best = std::min(best, squared_error(w, t));
  }
  return best / w.energy;
}

}  // namespace

double shape_residual(const io::Image& image, const Segmentation& seg, size_t component,
                      Shape shape) {
  return residual(window_of(image, seg, component), shape);
}

Shape classify_shape(const io::Image& image, const Segmentation& seg, size_t component) {
  const Window w = window_of(image, seg, component);
  Shape best = Shape::kCircle;
  double best_residual = std::numeric_limits<double>::max();
  for (int i = 0; i < kShapeCount; ++i) {
    const double r = residual(w, static_cast<Shape>(i));
    if (r < best_residual) {
      best_residual = r;
      best = static_cast<Shape>(i);
    }
  }
  return best;
}

}  // namespace dd::scenes
