// Every decoder reads the picture's size from its header first and refuses one over
// kMaxImageSide as too large, before the codec library's own limits report it as corrupt.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "io/image.h"
#include "io/image_codec.h"
#include "util/error.h"

namespace dd::io {
namespace {

Image grey(int w, int h) {
  return {w, h, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3, 90)};
}

uint32_t crc32(const uint8_t* data, size_t size) {
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < size; ++i) {
    crc ^= data[i];
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void put_big_endian(std::vector<uint8_t>& bytes, size_t at, uint32_t value) {
  for (int i = 0; i < 4; ++i) bytes[at + i] = static_cast<uint8_t>(value >> (24 - 8 * i));
}

// A PNG whose IHDR (with a valid CRC) claims width x height.
std::vector<uint8_t> png_claiming(uint32_t width, uint32_t height) {
  auto bytes = encode_png(grey(8, 8));
  put_big_endian(bytes, 16, width);
  put_big_endian(bytes, 20, height);
  put_big_endian(bytes, 29, crc32(bytes.data() + 12, 17));  // over the type and the 13 data bytes
  return bytes;
}

std::string error_of(const std::vector<uint8_t>& bytes) {
  try {
    decode_image(bytes, "upload");
  } catch (const Error& e) {
    return e.what();
  }
  return "(decoded)";
}

TEST(ImageSize, AnOversizedPngIsTooLargeNotCorrupt) {
  EXPECT_EQ(error_of(png_claiming(16384, 16384)),
            "upload: image is 16384x16384; the largest side accepted is 8192");
  EXPECT_EQ(error_of(png_claiming(64, 9000)),
            "upload: image is 64x9000; the largest side accepted is 8192");
}

TEST(ImageSize, AnOversizedJpegIsTooLarge) {
  auto jpeg = encode_image(grey(8, 8), "jpeg", 90);
  for (size_t i = 2; i + 8 < jpeg.size(); ++i)
    if (jpeg[i] == 0xff && jpeg[i + 1] == 0xc0) {
      jpeg[i + 5] = 16384 >> 8;
      jpeg[i + 6] = 0;
      jpeg[i + 7] = 16384 >> 8;
      jpeg[i + 8] = 0;
      break;
    }
  EXPECT_EQ(error_of(jpeg), "upload: image is 16384x16384; the largest side accepted is 8192");
}

TEST(ImageSize, AnOversizedWebpIsTooLarge) {
  auto webp = encode_image(grey(8, 8), "webp", 80);
  ASSERT_GT(webp.size(), 30u);
  ASSERT_EQ(std::string(webp.begin() + 12, webp.begin() + 16), "VP8 ");
  // The lossy frame header: 3 bytes of frame tag, the start code, then 14-bit sides.
  ASSERT_EQ(webp[23], 0x9d);
  const uint16_t side = 16000;
  webp[26] = side & 255;
  webp[27] = side >> 8;
  webp[28] = side & 255;
  webp[29] = side >> 8;
  EXPECT_EQ(error_of(webp), "upload: image is 16000x16000; the largest side accepted is 8192");
}

TEST(ImageSize, TheLargestSideIsAccepted) {
  EXPECT_NO_THROW(check_image_side(kMaxImageSide, kMaxImageSide, "x"));
  EXPECT_THROW(check_image_side(kMaxImageSide + 1, 1, "x"), Error);
}

}  // namespace
}  // namespace dd::io
