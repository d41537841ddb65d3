#include "scenes/segmentation.h"

#include <algorithm>
#include <cmath>

namespace dd::scenes {
namespace {

// Below this RGB distance a pixel is background whatever the picture: colour noise of a
// generated image stays under it, and palette colours are at least ~95 apart.
constexpr double kMinContrast = 30;
// Blobs smaller than this fraction of the image, or of the largest blob, are specks.
constexpr double kMinAreaFraction = 0.002;
constexpr double kMinRelativeArea = 0.2;

double median(std::vector<double> values) {
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + mid, values.end());
  return values[mid];
}

// Per-channel median of a ring two pixels wide (more on large images) around the border:
// objects may touch the border but never cover most of it.
void estimate_background(const io::Image& image, double out[3]) {
  const int ring = std::max(1, std::min(image.width, image.height) / 32);
  std::vector<double> channels[3];
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) {
      const bool border =
          x < ring || y < ring || x >= image.width - ring || y >= image.height - ring;
      if (!border) continue;
      const uint8_t* p = &image.rgb[(static_cast<size_t>(y) * image.width + x) * 3];
      for (int c = 0; c < 3; ++c) channels[c].push_back(p[c]);
    }
  }
  for (int c = 0; c < 3; ++c) out[c] = median(channels[c]);
}

std::vector<double> distances_from(const io::Image& image, const double background[3]) {
  std::vector<double> distance(static_cast<size_t>(image.width) * image.height);
  for (size_t i = 0; i < distance.size(); ++i) {
    const uint8_t* p = &image.rgb[i * 3];
    const double dr = p[0] - background[0], dg = p[1] - background[1], db = p[2] - background[2];
    distance[i] = std::sqrt(dr * dr + dg * dg + db * db);
  }
  return distance;
}

// Half of the objects' full contrast: on a blurred edge that is where the true outline was,
// whatever the two colours. The contrast is read near the top of the distance distribution
// (objects cover at least ~1% of a scene), ignoring the very top where noise peaks.
double foreground_threshold(std::vector<double> distance) {
  const size_t at = distance.size() * 997 / 1000;
  std::nth_element(distance.begin(), distance.begin() + at, distance.end());
  return std::max(kMinContrast, 0.5 * distance[at]);
}

// 8-connected flood fill from `start`, clearing visited pixels from `mask`.
Component flood(std::vector<uint8_t>& mask, int width, int height, int start) {
  Component component;
  component.x0 = component.x1 = start % width;
  component.y0 = component.y1 = start / width;
  std::vector<int> stack = {start};
  mask[start] = 0;
  while (!stack.empty()) {
    const int index = stack.back();
    stack.pop_back();
    component.pixels.push_back(index);
    const int x = index % width, y = index / width;
    component.x0 = std::min(component.x0, x);
    component.x1 = std::max(component.x1, x);
    component.y0 = std::min(component.y0, y);
    component.y1 = std::max(component.y1, y);
    for (int dy = -1; dy <= 1; ++dy) {
      for (int dx = -1; dx <= 1; ++dx) {
        const int nx = x + dx, ny = y + dy;
        if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
        const int neighbour = ny * width + nx;
        if (!mask[neighbour]) continue;
        mask[neighbour] = 0;
        stack.push_back(neighbour);
      }
    }
  }
  return component;
}

std::vector<Component> components_of(std::vector<uint8_t> mask, int width, int height) {
  std::vector<Component> components;
  for (int i = 0; i < width * height; ++i)
    if (mask[i]) components.push_back(flood(mask, width, height, i));
  std::stable_sort(components.begin(), components.end(),
                   [](const Component& a, const Component& b) { return a.area() > b.area(); });
  return components;
}

void drop_specks(std::vector<Component>& components, int image_area) {
  if (components.empty()) return;
  const double min_area =
      std::max(kMinAreaFraction * image_area, kMinRelativeArea * components.front().area());
  components.erase(std::remove_if(components.begin(), components.end(),
                                  [&](const Component& c) { return c.area() < min_area; }),
                   components.end());
}

}  // namespace

Segmentation segment(const io::Image& image) {
  Segmentation result;
  estimate_background(image, result.background);
  result.distance = distances_from(image, result.background);
  const double threshold = foreground_threshold(result.distance);
  std::vector<uint8_t> mask(result.distance.size());
  for (size_t i = 0; i < mask.size(); ++i) mask[i] = result.distance[i] > threshold;
  result.components = components_of(std::move(mask), image.width, image.height);
  drop_specks(result.components, image.width * image.height);
  result.label.assign(result.distance.size(), -1);
  for (size_t i = 0; i < result.components.size(); ++i)
    for (const int index : result.components[i].pixels) result.label[index] = static_cast<int>(i);
  return result;
}

void object_rgb(const io::Image& image, const Segmentation& seg, const Component& c,
                double out[3]) {
  std::vector<int> pixels = c.pixels;
  const size_t half = pixels.size() / 2;
  std::nth_element(pixels.begin(), pixels.begin() + half, pixels.end(),
                   [&](int a, int b) { return seg.distance[a] > seg.distance[b]; });
  pixels.resize(std::max<size_t>(half, 1));
  for (int channel = 0; channel < 3; ++channel) {
    std::vector<double> values;
    for (const int index : pixels) values.push_back(image.rgb[index * 3 + channel]);
    out[channel] = median(values);
  }
}

}  // namespace dd::scenes
