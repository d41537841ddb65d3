#pragma once
// The held-out split: a fixed ~15% of (shape, colour, position) combinations never appear in
// training scenes, so a trained model can be tested on combinations it has not seen (does it
// compose "purple" + "star" + "top left", or only recall pictures?).
#include "scenes/scene.h"

namespace dd::scenes {

bool is_held_out(Shape shape, Colour colour, Position position);

}  // namespace dd::scenes
