#pragma once
// Names the shape of one segmented blob by fitting each shape's template to it.
//
// The blob is read as a soft map: how far each pixel has moved from the background towards the
// object's colour (about 0 to 1; noise averages out instead of biasing it). Blur preserves the
// map's mass and centroid, so each template is scaled and placed from those exactly, then
// blurred 0-3 times to match the picture; the shape whose best template leaves the smallest
// residual wins. Thresholded outlines, by contrast, lose a small star's tips to blur.
#include <cstddef>

#include "io/image.h"
#include "scenes/segmentation.h"
#include "scenes/shapes.h"

namespace dd::scenes {

// Squared error of the best-fitting template of `shape`, relative to the blob's own energy:
// near 0 for a perfect fit.
double shape_residual(const io::Image& image, const Segmentation& seg, size_t component,
                      Shape shape);
Shape classify_shape(const io::Image& image, const Segmentation& seg, size_t component);

}  // namespace dd::scenes
