#include "scenes/scene.h"

#include <array>

#include "scenes/held_out.h"
#include "scenes/rng.h"
#include "scenes/scene_layout.h"
#include "util/error.h"

namespace dd::scenes {
namespace {

bool in_split(Split split, Shape shape, Colour colour, Position position) {
  if (split == Split::kAll) return true;
  return is_held_out(shape, colour, position) == (split == Split::kHeldOut);
}

// Rejection sampling keeps each split uniform over its combinations; ~7 draws on average for
// the held-out split.
void draw_combination(Rng& rng, Split split, Scene& scene) {
  do {
    scene.shape = static_cast<Shape>(rng.below(kShapeCount));
    scene.colour = static_cast<Colour>(rng.below(kColourCount));
    scene.position = static_cast<Position>(rng.below(kPositionCount));
  } while (!in_split(split, scene.shape, scene.colour, scene.position));
}

void draw_size_and_count(Rng& rng, int max_count, Scene& scene) {
  do {
    scene.size = static_cast<Size>(rng.below(kSizeCount));
    scene.count = 1 + rng.below(max_count);
  } while (!layout_fits(scene.size, scene.position, scene.count));
}

// Any palette colour but the objects'.
Colour draw_background(Rng& rng, Colour colour) {
  const int pick = rng.below(kColourCount - 1);
  return static_cast<Colour>(pick >= static_cast<int>(colour) ? pick + 1 : pick);
}

}  // namespace

const char* size_name(Size size) { return size == Size::kSmall ? "small" : "large"; }

const char* position_name(Position position) {
  static constexpr std::array<const char*, kPositionCount> names = {
      "centre",   "left",      "right",       "top",         "bottom",
      "top left", "top right", "bottom left", "bottom right"};
  return names[static_cast<int>(position)];
}

Scene sample_scene(uint64_t seed, const SceneOptions& options) {
  if (options.max_count < 1 || options.max_count > kMaxObjects)
    throw Error("scene options: max_count must be 1 to " + std::to_string(kMaxObjects));
  Rng rng(seed);
  Scene scene;
  draw_combination(rng, options.split, scene);
  draw_size_and_count(rng, options.max_count, scene);
  scene.background = draw_background(rng, scene.colour);
  scene.objects = lay_out(scene.size, scene.position, scene.count, rng);
  return scene;
}

Scene sample_training_scene(uint64_t seed, SceneOptions options) {
  options.split = Split::kTraining;
  return sample_scene(seed, options);
}

Scene sample_held_out_scene(uint64_t seed, SceneOptions options) {
  options.split = Split::kHeldOut;
  return sample_scene(seed, options);
}

}  // namespace dd::scenes
