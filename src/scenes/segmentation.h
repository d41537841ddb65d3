#pragma once
// Splits a picture of a scene into background and objects, without knowing the colours: the
// background is what dominates the border, an object is a connected blob of pixels far from it.
#include <vector>

#include "io/image.h"

namespace dd::scenes {

struct Component {
  std::vector<int> pixels;             // indices y * width + x
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // inclusive bounding box
  int area() const { return static_cast<int>(pixels.size()); }
};

struct Segmentation {
  double background[3] = {0, 0, 0};  // RGB
  std::vector<double> distance;      // per pixel, RGB distance from the background
  // Objects of meaningful size, largest first.
  std::vector<Component> components;
  std::vector<int> label;  // per pixel, the index of its component or -1
};

Segmentation segment(const io::Image& image);

// A blob's own colour: per-channel median of its most distinct half (by distance from the
// background), which skips the edge pixels that blending and blur mix with the background.
void object_rgb(const io::Image& image, const Segmentation& seg, const Component& c, double out[3]);

}  // namespace dd::scenes
