#include "io/image_codec.h"

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
