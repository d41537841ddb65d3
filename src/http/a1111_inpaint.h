#pragma once
// The picture and mask of an AUTOMATIC1111 img2img request, prepared as A1111 prepares them:
// both resized to width x height, the mask made binary (white = repaint), inverted when asked,
// softened by mask_blur, and for inpainting_fill 0 ("fill") the masked area painted over with
// the colours of its surroundings before it is encoded. Stored for the worker.
#include <optional>
#include <string>
#include <vector>

#include "http/api.h"
#include "http/json_body.h"
#include "io/image.h"

namespace dd::http {

struct A1111Inputs {
  std::string image_path;
  std::string mask_path;  // "" without a mask
  int width = 0;
  int height = 0;
};

// `width` / `height` unset: the picture's own size, snapped to a multiple of 8 within 64..1024.
A1111Inputs a1111_img2img_inputs(Api& api, const JsonBody& body, std::optional<int> width,
                                 std::optional<int> height);

// The steps, exposed for tests. A plane is one float per pixel (or `channels` per pixel).
// Separable blur close to a Gaussian of `sigma` pixels (three box passes); edges are not padded.
void blur_plane(std::vector<float>& plane, int width, int height, int channels, double sigma_x,
                double sigma_y);
// The masked pixels (mask > 0.5) of `image` painted from their surroundings at shrinking
// radii, as A1111's masked content "fill"; the others unchanged.
io::Image fill_masked(const io::Image& image, const std::vector<float>& mask);

}  // namespace dd::http
