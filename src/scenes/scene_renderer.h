#pragma once
// Draws a scene as an RGB picture with anti-aliased edges.
#include "io/image.h"
#include "scenes/scene.h"

namespace dd::scenes {

constexpr int kDefaultSceneSize = 64;

// A size x size image; size must be a multiple of 8 from 32 to 256 (the latent grid of a
// VAE with 8x downsampling). Throws dd::Error otherwise.
io::Image render(const Scene& scene, int size = kDefaultSceneSize);

}  // namespace dd::scenes
