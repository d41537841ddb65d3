#include "io/image_codec.h"

#include <png.h>
#include <webp/decode.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "util/error.h"

namespace dd::io {

namespace {

bool starts_with(const std::vector<uint8_t>& bytes, size_t offset, const char* magic) {
  const size_t size = std::strlen(magic);
  return bytes.size() >= offset + size && std::memcmp(bytes.data() + offset, magic, size) == 0;
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Every 4th byte of RGBA pixels.
std::vector<uint8_t> alpha_of_rgba(const std::vector<uint8_t>& rgba) {
  std::vector<uint8_t> alpha(rgba.size() / 4);
  for (size_t i = 0; i < alpha.size(); ++i) alpha[i] = rgba[i * 4 + 3];
  return alpha;
}

// The PNG's alpha (its alpha channel or tRNS transparency), read with libpng's simplified API;
// empty when it has none. Only for bytes decode_png accepted (so the size is within limits).
std::vector<uint8_t> png_alpha(const std::vector<uint8_t>& bytes, const std::string& what) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png, bytes.data(), bytes.size()))
    throw Error(what + ": corrupt PNG (" + png.message + ")");
  if ((png.format & PNG_FORMAT_FLAG_ALPHA) == 0) {
    png_image_free(&png);
    return {};
  }
  png.format = PNG_FORMAT_RGBA;
  std::vector<uint8_t> rgba(PNG_IMAGE_SIZE(png));
  if (!png_image_finish_read(&png, nullptr, rgba.data(), 0, nullptr))
    throw Error(what + ": corrupt PNG (" + png.message + ")");
  return alpha_of_rgba(rgba);
}

// The WebP's alpha channel, or empty when it has none. `image` is the decode of the same bytes.
std::vector<uint8_t> webp_alpha(const std::vector<uint8_t>& bytes, const Image& image,
                                const std::string& what) {
  WebPBitstreamFeatures features;
  if (WebPGetFeatures(bytes.data(), bytes.size(), &features) != VP8_STATUS_OK ||
      !features.has_alpha)
    return {};
  const int stride = image.width * 4;
  std::vector<uint8_t> rgba(static_cast<size_t>(stride) * image.height);
  if (!WebPDecodeRGBAInto(bytes.data(), bytes.size(), rgba.data(), rgba.size(), stride))
    throw Error(what + ": corrupt WebP alpha channel");
  return alpha_of_rgba(rgba);
}

}  // namespace

std::string canonical_image_format(const std::string& name, const std::string& what) {
  const std::string lower = lowercase(name);
  if (lower == "png") return "png";
  if (lower == "jpeg" || lower == "jpg") return "jpeg";
  if (lower == "webp") return "webp";
  throw Error(what + ": unknown image format '" + name + "' (expected png, jpeg or webp)");
}

std::string sniff_image_format(const std::vector<uint8_t>& bytes) {
  if (starts_with(bytes, 0, "\x89PNG\r\n\x1a\n")) return "png";
  if (bytes.size() >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff) return "jpeg";
  if (starts_with(bytes, 0, "RIFF") && starts_with(bytes, 8, "WEBP")) return "webp";
  return "";
}

std::string image_file_extension(const std::string& format) {
  const std::string canonical = canonical_image_format(format);
  return canonical == "jpeg" ? "jpg" : canonical;
}

Image decode_image(const std::vector<uint8_t>& bytes, const std::string& what) {
  if (bytes.empty()) throw Error(what + ": empty image");
  const std::string format = sniff_image_format(bytes);
  if (format == "png") return decode_png(bytes, what);
  if (format == "jpeg") return decode_jpeg(bytes, what);
  if (format == "webp") return decode_webp(bytes, what);
  throw Error(what + ": not a PNG, JPEG or WebP image");
}

ImageWithAlpha decode_image_with_alpha(const std::vector<uint8_t>& bytes, const std::string& what) {
  ImageWithAlpha decoded{decode_image(bytes, what), {}};
  const std::string format = sniff_image_format(bytes);
  if (format == "png") decoded.alpha = png_alpha(bytes, what);
  if (format == "webp") decoded.alpha = webp_alpha(bytes, decoded.image, what);
  return decoded;
}

std::vector<uint8_t> encode_image(const Image& image, const std::string& format, int quality,
                                  const TextChunks& text) {
  const std::string canonical = canonical_image_format(format);
  if (canonical == "png") return encode_png(image, text);
  if (quality < 1 || quality > 100)
    throw Error("quality: " + std::to_string(quality) + " is out of range (1..100)");
  if (canonical == "jpeg") {
    const auto parameters = text.find("parameters");
    return encode_jpeg(image, quality, parameters == text.end() ? "" : parameters->second);
  }
  return encode_webp(image, quality);
}

}  // namespace dd::io
