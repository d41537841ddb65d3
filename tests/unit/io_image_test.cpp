#include <gtest/gtest.h>

#include <filesystem>

#include "io/image.h"
#include "util/error.h"

namespace dd::io {
namespace {

Image gradient(int w, int h) {
  Image image{w, h, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3)};
  for (size_t i = 0; i < image.rgb.size(); ++i) image.rgb[i] = static_cast<uint8_t>(i * 7);
  return image;
}

TEST(Png, RoundTripsPixelsAndParameters) {
  const auto path = (std::filesystem::temp_directory_path() / "dd_png_roundtrip.png").string();
  const Image image = gradient(13, 7);
  write_png(path, image, {{"parameters", "a cat\nSteps: 20, Seed: 1"}});
  const Image back = read_png(path);
  EXPECT_EQ(back.width, 13);
  EXPECT_EQ(back.height, 7);
  EXPECT_EQ(back.rgb, image.rgb);
  EXPECT_EQ(read_png_text(path).at("parameters"), "a cat\nSteps: 20, Seed: 1");
}

TEST(Png, RejectsNonPngAndTruncatedData) {
  EXPECT_THROW(decode_png({1, 2, 3}, "x"), Error);
  auto bytes = encode_png(gradient(16, 16));
  bytes.resize(bytes.size() / 2);
  try {
    decode_png(bytes, "half.png");
    FAIL() << "truncated PNG decoded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("half.png"), std::string::npos);
  }
}

TEST(Png, RejectsCorruptedBody) {
  auto bytes = encode_png(gradient(16, 16));
  for (size_t i = 40; i < bytes.size(); i += 5) bytes[i] ^= 0x5a;
  EXPECT_THROW(decode_png(bytes, "corrupt.png"), Error);
}

}  // namespace
}  // namespace dd::io
