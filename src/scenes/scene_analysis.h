#pragma once
// Grades a picture against the scene it was meant to show, with classical image analysis only
// (so it can grade a model's output without another model): background, object count, and the
// colour, shape, size and position of the objects.
#include "io/image.h"
#include "scenes/scene.h"

namespace dd::scenes {

struct SceneAnalysis {
  Colour background = Colour::kWhite;
  int count = 0;  // objects found; the attributes below are meaningful only when count > 0
  Shape shape = Shape::kCircle;           // by area-weighted vote of the objects
  Colour colour = Colour::kRed;           // likewise
  Size size = Size::kSmall;               // of the largest object
  Position position = Position::kCentre;  // of the mean of the objects' box centres
};

struct SceneScore {
  bool background = false, count = false, shape = false, colour = false, size = false,
       position = false;
  bool all() const { return background && count && shape && colour && size && position; }
};

SceneAnalysis analyse(const io::Image& image);
// Per-attribute agreement; with no object found only the background can be right.
SceneScore score(const SceneAnalysis& analysis, const Scene& truth);

}  // namespace dd::scenes
