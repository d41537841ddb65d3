#pragma once
// A procedural scene: one to three copies of a shape in one colour and size, grouped at a
// position, on a plain background of another colour. Everything is drawn from a seed, so a
// scene is reproducible and can serve both as a training example and as ground truth.
#include <cstdint>
#include <vector>

#include "scenes/palette.h"
#include "scenes/shapes.h"

namespace dd::scenes {

enum class Size { kSmall, kLarge };
constexpr int kSizeCount = 2;

// The 3x3 grid cell of the objects' group centre.
enum class Position {
  kCentre,
  kLeft,
  kRight,
  kTop,
  kBottom,
  kTopLeft,
  kTopRight,
  kBottomLeft,
  kBottomRight
};
constexpr int kPositionCount = 9;
constexpr int kMaxObjects = 3;

const char* size_name(Size size);
const char* position_name(Position position);  // "centre", "top left", ...

// One drawn object, in normalised image coordinates (x right, y down, both in [0, 1]): the
// shape fills the square box of half side `half_side` around (cx, cy).
struct SceneObject {
  double cx = 0, cy = 0, half_side = 0;
  double left() const { return cx - half_side; }
  double right() const { return cx + half_side; }
  double top() const { return cy - half_side; }
  double bottom() const { return cy + half_side; }
};

struct Scene {
  Shape shape = Shape::kCircle;
  Colour colour = Colour::kRed;
  Size size = Size::kSmall;
  Position position = Position::kCentre;
  int count = 1;
  Colour background = Colour::kWhite;
  std::vector<SceneObject> objects;  // `count` of them
};

// Which (shape, colour, position) combinations a sampler may draw (see held_out.h).
enum class Split { kAll, kTraining, kHeldOut };

struct SceneOptions {
  Split split = Split::kAll;
  int max_count = kMaxObjects;  // 1 gives single-object scenes only
};

Scene sample_scene(uint64_t seed, const SceneOptions& options = {});
Scene sample_training_scene(uint64_t seed, SceneOptions options = {});
Scene sample_held_out_scene(uint64_t seed, SceneOptions options = {});

}  // namespace dd::scenes
