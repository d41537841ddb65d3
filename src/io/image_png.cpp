#include <png.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>

#include "io/image.h"
#include "util/error.h"

namespace dd::io {

namespace {

struct ReadCursor {
  const std::vector<uint8_t>* bytes;
  size_t offset;
};

void read_from_memory(png_structp png, png_bytep out, png_size_t length) {
  auto* cursor = static_cast<ReadCursor*>(png_get_io_ptr(png));
  if (cursor->offset + length > cursor->bytes->size()) png_error(png, "truncated PNG data");
  std::memcpy(out, cursor->bytes->data() + cursor->offset, length);
  cursor->offset += length;
}

void write_to_vector(png_structp png, png_bytep data, png_size_t length) {
  auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + length);
}

void flush_nothing(png_structp) {}

// libpng reports errors by longjmp; turn them into a message we can throw from C++ safely after
// the jump lands in the setjmp frame.
void on_png_error(png_structp png, png_const_charp message) {
  auto* text = static_cast<std::string*>(png_get_error_ptr(png));
  if (text) *text = message;
  png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {}

// The size in the IHDR chunk, which a valid PNG has first, right after the signature.
void check_png_side(const std::vector<uint8_t>& bytes, const std::string& what) {
  constexpr size_t kIhdrEnd = 8 + 8 + 8;  // signature, length and type, width and height
  if (bytes.size() < kIhdrEnd || std::memcmp(bytes.data() + 12, "IHDR", 4) != 0) return;
  const auto big_endian = [&](size_t at) {
    return (uint64_t(bytes[at]) << 24) | (uint64_t(bytes[at + 1]) << 16) |
           (uint64_t(bytes[at + 2]) << 8) | uint64_t(bytes[at + 3]);
  };
  check_image_side(big_endian(16), big_endian(20), what);
}

}  // namespace

void check_image_side(uint64_t width, uint64_t height, const std::string& what) {
  if (width <= uint64_t(kMaxImageSide) && height <= uint64_t(kMaxImageSide)) return;
  throw Error(what + ": image is " + std::to_string(width) + "x" + std::to_string(height) +
              "; the largest side accepted is " + std::to_string(kMaxImageSide));
}

Image decode_png(const std::vector<uint8_t>& bytes, const std::string& what) {
  if (bytes.size() < 8 || png_sig_cmp(bytes.data(), 0, 8) != 0)
    throw Error(what + ": not a PNG image");
  check_png_side(bytes, what);
  std::string error;
  png_structp png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, &error, on_png_error, on_png_warning);
  if (!png) throw Error(what + ": cannot create PNG decoder");
  png_infop info = png_create_info_struct(png);
  Image image;
  std::vector<png_bytep> rows;
  ReadCursor cursor{&bytes, 0};
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    throw Error(what + ": corrupt PNG (" + error + ")");
  }
  png_set_read_fn(png, &cursor, read_from_memory);
  png_set_user_limits(png, kMaxImageSide, kMaxImageSide);
  png_read_info(png, info);
  const int width = static_cast<int>(png_get_image_width(png, info));
  const int height = static_cast<int>(png_get_image_height(png, info));
  const int color = png_get_color_type(png, info);
  const int depth = png_get_bit_depth(png, info);
  if (depth == 16) png_set_strip_16(png);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
  png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_rowbytes(png, info) != static_cast<size_t>(width) * 3)
    png_error(png, "unexpected pixel layout after conversion");
  image.width = width;
  image.height = height;
  image.rgb.resize(static_cast<size_t>(width) * height * 3);
  rows.resize(height);
  for (int y = 0; y < height; ++y) rows[y] = image.rgb.data() + static_cast<size_t>(y) * width * 3;
  png_read_image(png, rows.data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return image;
}

std::vector<uint8_t> encode_png(const Image& image,
                                const std::map<std::string, std::string>& text) {
  if (image.width <= 0 || image.height <= 0 ||
      image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3)
    throw Error("encode_png: image size and pixel buffer disagree");
  std::string error;
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, &error, on_png_error, on_png_warning);
  if (!png) throw Error("cannot create PNG encoder");
  png_infop info = png_create_info_struct(png);
  std::vector<uint8_t> out;
  std::vector<png_text> chunks;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    throw Error("PNG encoding failed: " + error);
  }
  png_set_write_fn(png, &out, write_to_vector, flush_nothing);
  png_set_IHDR(png, info, image.width, image.height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  for (const auto& [key, value] : text) {
    png_text chunk{};
    chunk.compression = PNG_TEXT_COMPRESSION_NONE;
    chunk.key = const_cast<char*>(key.c_str());
    chunk.text = const_cast<char*>(value.c_str());
    chunk.text_length = value.size();
    chunks.push_back(chunk);
  }
  if (!chunks.empty()) png_set_text(png, info, chunks.data(), static_cast<int>(chunks.size()));
  png_write_info(png, info);
  for (int y = 0; y < image.height; ++y)
    png_write_row(
        png, const_cast<png_bytep>(image.rgb.data() + static_cast<size_t>(y) * image.width * 3));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

std::map<std::string, std::string> read_png_text(const std::string& path) {
  return decode_png_text(read_file_bytes(path), path);
}

std::map<std::string, std::string> decode_png_text(const std::vector<uint8_t>& bytes,
                                                   const std::string& path) {
  if (bytes.size() < 8 || png_sig_cmp(bytes.data(), 0, 8) != 0)
    throw Error(path + ": not a PNG image");
  std::string error;
  png_structp png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, &error, on_png_error, on_png_warning);
  png_infop info = png_create_info_struct(png);
  ReadCursor cursor{&bytes, 0};
  std::map<std::string, std::string> text;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    throw Error(path + ": corrupt PNG (" + error + ")");
  }
  png_set_read_fn(png, &cursor, read_from_memory);
  png_read_info(png, info);
  png_textp chunks = nullptr;
  const int count = png_get_text(png, info, &chunks, nullptr);
  for (int i = 0; i < count; ++i)
    text[chunks[i].key] = std::string(chunks[i].text, chunks[i].text_length);
  png_destroy_read_struct(&png, &info, nullptr);
  return text;
}

Image read_png(const std::string& path) { return decode_png(read_file_bytes(path), path); }

void write_png(const std::string& path, const Image& image,
               const std::map<std::string, std::string>& text) {
  write_file_atomic(path, encode_png(image, text));
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open");
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(path + ": cannot write");
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out.flush()) throw Error(path + ": write failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(path + ": cannot move the finished file into place");
  }
}

}  // namespace dd::io
