#include "http/openai_edit_mask.h"

#include <algorithm>

#include "http/api_error.h"

namespace dd::http {

namespace {

bool has_transparency(const io::ImageWithAlpha& image) {
  return std::find(image.alpha.begin(), image.alpha.end(), 0) != image.alpha.end();
}

// White where the alpha is 0 (repaint), black elsewhere (keep).
io::Image mask_from_alpha(const io::ImageWithAlpha& image) {
  io::Image mask{image.image.width, image.image.height,
                 std::vector<uint8_t>(image.alpha.size() * 3)};
  for (size_t i = 0; i < image.alpha.size(); ++i)
    std::fill_n(mask.rgb.begin() + static_cast<std::ptrdiff_t>(i * 3), 3,
                image.alpha[i] == 0 ? 255 : 0);
  return mask;
}

}  // namespace

io::Image openai_edit_mask(const io::ImageWithAlpha& image,
                           const std::optional<io::ImageWithAlpha>& mask) {
  if (mask) return has_transparency(*mask) ? mask_from_alpha(*mask) : mask->image;
  if (!has_transparency(image))
    throw bad_parameter("mask",
                        "mask is required unless image has fully transparent pixels (they mark "
                        "where to edit)");
  return mask_from_alpha(image);
}

}  // namespace dd::http
