#pragma once
// One entry point for every image format the service reads and writes. Decoding sniffs the
// format from the bytes (never from a name or a Content-Type a client sent), validates the size
// against kMaxImageSide and turns any corrupt, truncated or unsupported input into a dd::Error.
//
// Metadata: PNG keeps every text chunk as tEXt. JPEG carries only the `parameters` text, as a
// COM (comment) marker, when it fits in one marker (< 64 KiB); WebP output carries no text.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "io/image.h"

namespace dd::io {

using TextChunks = std::map<std::string, std::string>;

// Canonical format names: "png", "jpeg", "webp". Accepts any case and the alias "jpg";
// anything else is a dd::Error naming `what` (the request field).
std::string canonical_image_format(const std::string& name, const std::string& what = "format");
// "png" | "jpeg" | "webp" from the leading bytes, or "" when none of them.
std::string sniff_image_format(const std::vector<uint8_t>& bytes);
// File name extension without the dot: png, jpg, webp.
std::string image_file_extension(const std::string& format);

// Decodes PNG, JPEG or WebP into 8-bit RGB (alpha dropped). `what` names the input in errors.
Image decode_image(const std::vector<uint8_t>& bytes, const std::string& what);

// An image with its alpha channel, for callers to whom transparency means something (OpenAI's
// edit masks). decode_image is unchanged: everything else sees RGB only.
struct ImageWithAlpha {
  Image image;                 // exactly what decode_image gives
  std::vector<uint8_t> alpha;  // one byte per pixel, row-major, 0 = fully transparent; empty when
                               // the file has no alpha channel (JPEG; PNG without alpha or tRNS)
};
ImageWithAlpha decode_image_with_alpha(const std::vector<uint8_t>& bytes, const std::string& what);

// Encodes as `format` (any name canonical_image_format accepts). `quality` (1..100) applies to
// JPEG and WebP; WebP at 100 is lossless.
std::vector<uint8_t> encode_image(const Image& image, const std::string& format, int quality = 90,
                                  const TextChunks& text = {});

// The per-format codecs behind the two functions above.
Image decode_jpeg(const std::vector<uint8_t>& bytes, const std::string& what);
std::vector<uint8_t> encode_jpeg(const Image& image, int quality, const std::string& comment = "");
Image decode_webp(const std::vector<uint8_t>& bytes, const std::string& what);
std::vector<uint8_t> encode_webp(const Image& image, int quality);

}  // namespace dd::io
