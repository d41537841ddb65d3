// WebP through libwebp. Still images only (an animation is refused); quality 100 selects the
// lossless encoder so "maximum quality" really means the same pixels back.
#include <webp/decode.h>
#include <webp/encode.h>

#include "io/image_codec.h"
#include "util/error.h"

namespace dd::io {

namespace {

constexpr int kMaxWebpSide = 16383;  // the format's limit

const char* status_text(VP8StatusCode status) {
  switch (status) {
    case VP8_STATUS_OUT_OF_MEMORY:
      return "out of memory";
    case VP8_STATUS_INVALID_PARAM:
      return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR:
      return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE:
      return "unsupported feature";
    case VP8_STATUS_SUSPENDED:
      return "suspended";
    case VP8_STATUS_USER_ABORT:
      return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA:
      return "truncated data";
    default:
      return "unknown error";
  }
}

}  // namespace

Image decode_webp(const std::vector<uint8_t>& bytes, const std::string& what) {
  WebPDecoderConfig config;
  if (!WebPInitDecoderConfig(&config)) throw Error(what + ": cannot create WebP decoder");
  const VP8StatusCode header = WebPGetFeatures(bytes.data(), bytes.size(), &config.input);
  if (header != VP8_STATUS_OK) throw Error(what + ": corrupt WebP (" + status_text(header) + ")");
  if (config.input.has_animation) throw Error(what + ": animated WebP images are not supported");
  const int width = config.input.width;
  const int height = config.input.height;
  if (width <= 0 || height <= 0)
    throw Error(what + ": corrupt WebP (its size is " + std::to_string(width) + "x" +
                std::to_string(height) + ")");
  check_image_side(static_cast<uint64_t>(width), static_cast<uint64_t>(height), what);
  Image image{width, height, std::vector<uint8_t>(static_cast<size_t>(width) * height * 3)};
  config.output.colorspace = MODE_RGB;
  config.output.is_external_memory = 1;
  config.output.u.RGBA.rgba = image.rgb.data();
  config.output.u.RGBA.stride = width * 3;
  config.output.u.RGBA.size = image.rgb.size();
  const VP8StatusCode status = WebPDecode(bytes.data(), bytes.size(), &config);
  WebPFreeDecBuffer(&config.output);  // frees nothing external; releases decoder-side state
  if (status != VP8_STATUS_OK) throw Error(what + ": corrupt WebP (" + status_text(status) + ")");
  return image;
}

std::vector<uint8_t> encode_webp(const Image& image, int quality) {
  if (image.width <= 0 || image.height <= 0 ||
      image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3)
    throw Error("encode_webp: image size and pixel buffer disagree");
  if (image.width > kMaxWebpSide || image.height > kMaxWebpSide)
    throw Error("encode_webp: image too large for WebP (max side " + std::to_string(kMaxWebpSide) +
                ")");
  if (quality < 1 || quality > 100)
    throw Error("quality: " + std::to_string(quality) + " is out of range (1..100)");
  uint8_t* output = nullptr;
  const int stride = image.width * 3;
  const size_t size = quality == 100 ? WebPEncodeLosslessRGB(image.rgb.data(), image.width,
                                                             image.height, stride, &output)
                                     : WebPEncodeRGB(image.rgb.data(), image.width, image.height,
                                                     stride, static_cast<float>(quality), &output);
  if (size == 0 || output == nullptr) {
    WebPFree(output);
    throw Error("WebP encoding failed");
  }
  std::vector<uint8_t> bytes(output, output + size);
  WebPFree(output);
  return bytes;
}

}  // namespace dd::io
