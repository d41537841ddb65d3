#pragma once
// Where objects go: the geometry shared by the renderer (placing objects) and the analyser
// (naming the position and size it measures), so both use the same thresholds.
#include <vector>

#include "scenes/rng.h"
#include "scenes/scene.h"

namespace dd::scenes {

// Half sides of the object boxes, in image widths; each object varies by up to kSizeJitter.
constexpr double kSmallHalfSide = 0.10;
constexpr double kLargeHalfSide = 0.17;
constexpr double kSizeJitter = 0.08;
// A measured half side above this is "large": the geometric mean of the two sizes.
constexpr double kLargeThreshold = 0.1304;

// The grid cell of a normalised point: thirds of the image in each direction.
Position position_at(double x, double y);
// Whether `count` objects of `size` fit at `position` without touching each other or the
// border: groups of several lie along an edge band or the middle, never in a corner, and three
// only when small.
bool layout_fits(Size size, Position position, int count);
// The objects of a group (layout_fits must hold), with a little random jitter.
std::vector<SceneObject> lay_out(Size size, Position position, int count, Rng& rng);

}  // namespace dd::scenes
