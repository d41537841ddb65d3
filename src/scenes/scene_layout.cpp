#include "scenes/scene_layout.h"

#include <cmath>

#include "util/error.h"

namespace dd::scenes {
namespace {

// Group centres: well inside their third so jitter and blur cannot move them across a line.
constexpr double kNear = 0.22, kMiddle = 0.5, kFar = 0.78;
constexpr double kCentreJitter = 0.03;

struct Anchor {
  double x, y;
};

Anchor anchor_of(Position position) {
  switch (position) {
    case Position::kCentre:
      return {kMiddle, kMiddle};
    case Position::kLeft:
      return {kNear, kMiddle};
    case Position::kRight:
      return {kFar, kMiddle};
    case Position::kTop:
      return {kMiddle, kNear};
    case Position::kBottom:
      return {kMiddle, kFar};
    case Position::kTopLeft:
      return {kNear, kNear};
    case Position::kTopRight:
      return {kFar, kNear};
    case Position::kBottomLeft:
      return {kNear, kFar};
    case Position::kBottomRight:
      return {kFar, kFar};
  }
  return {kMiddle, kMiddle};
}

bool is_corner(Position p) {
  return p == Position::kTopLeft || p == Position::kTopRight || p == Position::kBottomLeft ||
         p == Position::kBottomRight;
}

// Groups spread across the band they are named after: a column for left/right, a row for the
// others, so the group centre stays in its cell.
bool spreads_vertically(Position p) { return p == Position::kLeft || p == Position::kRight; }

// Distance between neighbouring centres: a clear gap (~4 px at 64x64) so blur keeps them apart.
double spacing(Size size) { return size == Size::kSmall ? 0.27 : 0.42; }

double half_side(Size size) { return size == Size::kSmall ? kSmallHalfSide : kLargeHalfSide; }

}  // namespace

Position position_at(double x, double y) {
  const int column = x < 1.0 / 3 ? 0 : (x < 2.0 / 3 ? 1 : 2);
  const int row = y < 1.0 / 3 ? 0 : (y < 2.0 / 3 ? 1 : 2);
  static constexpr Position kGrid[3][3] = {
      {Position::kTopLeft, Position::kTop, Position::kTopRight},
      {Position::kLeft, Position::kCentre, Position::kRight},
      {Position::kBottomLeft, Position::kBottom, Position::kBottomRight}};
  return kGrid[row][column];
}

bool layout_fits(Size size, Position position, int count) {
  if (count < 1 || count > kMaxObjects) return false;
  if (count == 1) return true;
  if (is_corner(position)) return false;
  return count == 2 || size == Size::kSmall;
}

std::vector<SceneObject> lay_out(Size size, Position position, int count, Rng& rng) {
  if (!layout_fits(size, position, count)) throw Error("scene layout: objects do not fit");
  const Anchor anchor = anchor_of(position);
  const double cx = anchor.x + rng.uniform(-kCentreJitter, kCentreJitter);
  const double cy = anchor.y + rng.uniform(-kCentreJitter, kCentreJitter);
  std::vector<SceneObject> objects;
  for (int i = 0; i < count; ++i) {
    // Offsets -1, 0, +1 (three) or -0.5, +0.5 (two) spacings about the group centre.
    const double offset = (i - (count - 1) / 2.0) * spacing(size);
    const double side = half_side(size) * (1 + rng.uniform(-kSizeJitter, kSizeJitter));
    SceneObject object{cx, cy, side};
    (spreads_vertically(position) ? object.cy : object.cx) += offset;
    objects.push_back(object);
  }
  return objects;
}

}  // namespace dd::scenes
