#pragma once
// Resampling for img2img inputs, masks and the image API's `transform`: exact area averaging
// when a side shrinks (every source pixel contributes by how much of it an output pixel covers,
// so no aliasing) and bilinear interpolation with clamped edges when a side grows. The two axes
// are handled separately, so one can shrink while the other grows.
#include "io/image.h"

namespace dd::io {

// A new image of width x height (each 1..kMaxImageSide); dd::Error otherwise.
Image resize_image(const Image& image, int width, int height);

}  // namespace dd::io
