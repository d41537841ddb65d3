#include "scenes/shapes.h"

#include <array>
#include <cmath>

namespace dd::scenes {
namespace {

struct Point {
  double u, v;
};

// Even-odd rule point-in-polygon test.
template <size_t N>
bool polygon_contains(const std::array<Point, N>& poly, double u, double v) {
  bool inside = false;
  for (size_t i = 0, j = N - 1; i < N; j = i++) {
    const Point a = poly[i], b = poly[j];
    if ((a.v > v) != (b.v > v) && u < (b.u - a.u) * (v - a.v) / (b.v - a.v) + a.u) inside = !inside;
  }
  return inside;
}

// A five-pointed star, point up, inner radius 0.45 of the outer, stretched to fill the box.
// The trigonometric values are spelled out so the vertices do not depend on the libm.
std::array<Point, 10> make_star() {
  constexpr double kCos18 = 0.9510565162951535, kSin18 = 0.3090169943749474;
  constexpr double kCos54 = 0.5877852522924731, kSin54 = 0.8090169943749475;
  constexpr double kInner = 0.45;
  // Angles -90, -54, -18, 18, 54, 90, 126, 162, 198, 234 degrees; even indices are the tips.
  const std::array<Point, 10> polar = {{{0, -1},
                                        {kCos54, -kSin54},
                                        {kCos18, -kSin18},
                                        {kCos18, kSin18},
                                        {kCos54, kSin54},
                                        {0, 1},
                                        {-kCos54, kSin54},
                                        {-kCos18, kSin18},
                                        {-kCos18, -kSin18},
                                        {-kCos54, -kSin54}}};
  std::array<Point, 10> star{};
  for (size_t i = 0; i < polar.size(); ++i) {
    const double radius = i % 2 == 0 ? 1.0 : kInner;
    star[i] = {polar[i].u * radius, polar[i].v * radius};
  }
  // The tips span u in [-cos18, cos18] and v in [-1, sin54]: map that onto [-1, 1]^2.
  for (Point& p : star) {
    p.u /= kCos18;
    p.v = (p.v + 1.0) / (1.0 + kSin54) * 2.0 - 1.0;
  }
  return star;
}

bool star_contains(double u, double v) {
  static const std::array<Point, 10> star = make_star();
  return polygon_contains(star, u, v);
}

// Two round lobes on top of a triangle whose tip is the bottom of the box.
bool heart_contains(double u, double v) {
  const double du = std::abs(u) - 0.5, dv = v + 0.5;
  if (du * du + dv * dv <= 0.25) return true;
  static const std::array<Point, 3> body = {{{-1, -0.5}, {1, -0.5}, {0, 1}}};
  return polygon_contains(body, u, v);
}

}  // namespace

const char* shape_name(Shape shape) {
  static constexpr std::array<const char*, kShapeCount> names = {
      "circle", "square", "triangle", "star", "cross", "heart", "diamond"};
  return names[static_cast<int>(shape)];
}

const char* shape_plural(Shape shape) {
  static constexpr std::array<const char*, kShapeCount> names = {
      "circles", "squares", "triangles", "stars", "crosses", "hearts", "diamonds"};
  return names[static_cast<int>(shape)];
}

bool shape_contains(Shape shape, double u, double v) {
  if (std::abs(u) > 1 || std::abs(v) > 1) return false;
  switch (shape) {
    case Shape::kCircle:
      return u * u + v * v <= 1;
    case Shape::kSquare:
      return true;
    case Shape::kTriangle:  // point up, base along the bottom edge
      return std::abs(u) <= (v + 1) / 2;
    case Shape::kStar:
      return star_contains(u, v);
    case Shape::kCross:  // a plus sign with arms a third of the box wide
      return std::abs(u) <= 1.0 / 3 || std::abs(v) <= 1.0 / 3;
    case Shape::kHeart:
      return heart_contains(u, v);
    case Shape::kDiamond:
      return std::abs(u) + std::abs(v) <= 1;
  }
  return false;
}

}  // namespace dd::scenes
