// The image decoders (PNG, JPEG, WebP, sniffed from the bytes) as uploads reach them: a decoded
// image's buffers must match its size, and any bad input must be a dd::Error.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "io/image_codec.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes(data, data + size);
  try {
    const auto decoded = dd::io::decode_image_with_alpha(bytes, "image");
    const auto& image = decoded.image;
    const size_t pixels = static_cast<size_t>(image.width) * image.height;
    if (image.width <= 0 || image.height <= 0 || image.width > dd::io::kMaxImageSide ||
        image.height > dd::io::kMaxImageSide || image.rgb.size() != pixels * 3 ||
        (!decoded.alpha.empty() && decoded.alpha.size() != pixels))
      std::abort();
  } catch (const dd::Error&) {
  }
  return 0;
}
