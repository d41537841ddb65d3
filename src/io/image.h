#pragma once
// 8-bit RGB images and the PNG codec, with the A1111-style `parameters` text chunk that records
// how an image was made. Decoding validates everything: a corrupt or hostile file is a dd::Error.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dd::io {

struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // row-major, 3 bytes per pixel
};

// Largest side accepted when decoding, so a tiny file cannot claim a gigapixel canvas.
constexpr int kMaxImageSide = 8192;
// Every decoder reads the size from the header first and refuses a larger one with
// "<what>: image is WxH; the largest side accepted is 8192".
void check_image_side(uint64_t width, uint64_t height, const std::string& what);

// Decodes a PNG from memory / a file into RGB (grey, palette and alpha are converted; alpha is
// dropped). `what` names the input in error messages.
Image decode_png(const std::vector<uint8_t>& bytes, const std::string& what);
Image read_png(const std::string& path);

// Encodes RGB as PNG with optional tEXt chunks (e.g. {"parameters", "..."}).
std::vector<uint8_t> encode_png(const Image& image,
                                const std::map<std::string, std::string>& text = {});
// Writes via a temporary file and rename.
void write_png(const std::string& path, const Image& image,
               const std::map<std::string, std::string>& text = {});
// The tEXt chunks of a PNG file, or of PNG bytes (`what` names them in errors).
std::map<std::string, std::string> read_png_text(const std::string& path);
std::map<std::string, std::string> decode_png_text(const std::vector<uint8_t>& bytes,
                                                   const std::string& what);

std::vector<uint8_t> read_file_bytes(const std::string& path);
void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes);

}  // namespace dd::io
