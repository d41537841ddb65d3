#include "scenes/scene_analysis.h"

#include <algorithm>
#include <array>

#include "scenes/scene_layout.h"
#include "scenes/segmentation.h"
#include "scenes/shape_classifier.h"

namespace dd::scenes {
namespace {

Colour component_colour(const io::Image& image, const Segmentation& seg, const Component& c) {
  double rgb[3];
  object_rgb(image, seg, c, rgb);
  return nearest_colour(rgb[0], rgb[1], rgb[2]);
}

// The value with the most total area among the blobs.
template <typename T, size_t N>
T area_vote(const std::vector<T>& values, const std::vector<Component>& components) {
  std::array<long, N> votes{};
  for (size_t i = 0; i < values.size(); ++i)
    votes[static_cast<int>(values[i])] += components[i].area();
  return static_cast<T>(std::max_element(votes.begin(), votes.end()) - votes.begin());
}

Size size_of(const Component& c, const io::Image& image) {
  const double half_width = (c.x1 - c.x0 + 1) / 2.0 / image.width;
  const double half_height = (c.y1 - c.y0 + 1) / 2.0 / image.height;
  return std::max(half_width, half_height) > kLargeThreshold ? Size::kLarge : Size::kSmall;
}

// Box centres rather than centroids: the renderer places boxes, and a triangle's or heart's
// mass sits off its box centre.
Position group_position(const std::vector<Component>& components, const io::Image& image) {
  double x = 0, y = 0;
  for (const Component& c : components) {
    x += (c.x0 + c.x1 + 1) / 2.0 / image.width;
    y += (c.y0 + c.y1 + 1) / 2.0 / image.height;
  }
  const double n = static_cast<double>(components.size());
  return position_at(x / n, y / n);
}

}  // namespace

SceneAnalysis analyse(const io::Image& image) {
  const Segmentation seg = segment(image);
  SceneAnalysis analysis;
  analysis.background = nearest_colour(seg.background[0], seg.background[1], seg.background[2]);
  analysis.count = static_cast<int>(seg.components.size());
  if (seg.components.empty()) return analysis;
  std::vector<Shape> shapes;
  std::vector<Colour> colours;
  for (size_t i = 0; i < seg.components.size(); ++i) {
    shapes.push_back(classify_shape(image, seg, i));
    colours.push_back(component_colour(image, seg, seg.components[i]));
  }
  analysis.shape = area_vote<Shape, kShapeCount>(shapes, seg.components);
  analysis.colour = area_vote<Colour, kColourCount>(colours, seg.components);
  analysis.size = size_of(seg.components.front(), image);
  analysis.position = group_position(seg.components, image);
  return analysis;
}

SceneScore score(const SceneAnalysis& analysis, const Scene& truth) {
  SceneScore s;
  s.background = analysis.background == truth.background;
  s.count = analysis.count == truth.count;
  if (analysis.count == 0) return s;
  s.shape = analysis.shape == truth.shape;
  s.colour = analysis.colour == truth.colour;
  s.size = analysis.size == truth.size;
  s.position = analysis.position == truth.position;
  return s;
}

}  // namespace dd::scenes
