#pragma once
// The shapes of the scenes, each defined as a region that exactly fills the box [-1, 1]^2 (y
// down), so the renderer can scale it to an object's box and the analyser can fit it to a
// component's bounding box.
namespace dd::scenes {

enum class Shape { kCircle, kSquare, kTriangle, kStar, kCross, kHeart, kDiamond };
constexpr int kShapeCount = 7;

const char* shape_name(Shape shape);
const char* shape_plural(Shape shape);
// Whether the point (u, v) of the unit box lies inside the shape.
bool shape_contains(Shape shape, double u, double v);

}  // namespace dd::scenes
