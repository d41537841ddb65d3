#pragma once
// The mask of an OpenAI /v1/images/edits request, as the pipeline takes it (white = repaint).
// OpenAI's rule: the mask's fully transparent pixels (alpha 0) mark where to edit, and without a
// mask the image's own transparent pixels do. So:
//  - a mask with transparent pixels: alpha 0 = repaint, everything else is kept;
//  - a mask without an alpha channel (or whose alpha is opaque everywhere, so it carries no
//    transparency): white = repaint, the rule of the other dialects (API.md);
//  - no mask: the image's transparent pixels; an image without any is a 400 naming `mask`.
#include <optional>

#include "io/image_codec.h"

namespace dd::http {

io::Image openai_edit_mask(const io::ImageWithAlpha& image,
                           const std::optional<io::ImageWithAlpha>& mask);

}  // namespace dd::http
