#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

// After <cstdio>: jpeglib.h needs FILE and size_t.
// clang-format off
#include <jpeglib.h>
// clang-format on

#include "io/image_codec.h"
#include "io/image_resize.h"
#include "util/error.h"

namespace dd::io {
namespace {

// A smooth picture with some structure: lossy codecs should reproduce it closely.
Image test_picture(int w, int h) {
  Image image{w, h, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3)};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = &image.rgb[(static_cast<size_t>(y) * w + x) * 3];
      p[0] = static_cast<uint8_t>(255 * x / (w - 1));
      p[1] = static_cast<uint8_t>(255 * y / (h - 1));
      p[2] = static_cast<uint8_t>(128 + 100 * std::sin((x + y) * 0.1));
    }
  return image;
}

Image solid(int w, int h, uint8_t r, uint8_t g, uint8_t b) {
  Image image{w, h, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3)};
  for (size_t i = 0; i < image.rgb.size(); i += 3) {
    image.rgb[i] = r;
    image.rgb[i + 1] = g;
    image.rgb[i + 2] = b;
  }
  return image;
}

double mean_abs_error(const Image& a, const Image& b) {
  EXPECT_EQ(a.rgb.size(), b.rgb.size());
  double sum = 0;
  for (size_t i = 0; i < a.rgb.size(); ++i) sum += std::abs(int(a.rgb[i]) - int(b.rgb[i]));
  return sum / static_cast<double>(a.rgb.size());
}

TEST(ImageFormat, CanonicalNamesAndAliases) {
  EXPECT_EQ(canonical_image_format("png"), "png");
  EXPECT_EQ(canonical_image_format("PNG"), "png");
  EXPECT_EQ(canonical_image_format("jpg"), "jpeg");
  EXPECT_EQ(canonical_image_format("JPEG"), "jpeg");
  EXPECT_EQ(canonical_image_format("WebP"), "webp");
  EXPECT_EQ(image_file_extension("jpeg"), "jpg");
  EXPECT_EQ(image_file_extension("webp"), "webp");
  try {
    canonical_image_format("gif", "output_format");
    FAIL() << "gif accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("output_format"), std::string::npos);
  }
  EXPECT_THROW(canonical_image_format(""), Error);
  EXPECT_THROW(canonical_image_format("../png"), Error);
}

TEST(ImageFormat, SniffsFromBytes) {
  const Image image = test_picture(8, 8);
  EXPECT_EQ(sniff_image_format(encode_image(image, "png")), "png");
  EXPECT_EQ(sniff_image_format(encode_image(image, "jpeg")), "jpeg");
  EXPECT_EQ(sniff_image_format(encode_image(image, "webp")), "webp");
  EXPECT_EQ(sniff_image_format({'G', 'I', 'F', '8', '9', 'a'}), "");
  EXPECT_EQ(sniff_image_format({}), "");
}

TEST(ImageCodec, PngRoundTripIsExactAndKeepsParameters) {
  const Image image = test_picture(33, 17);
  const auto bytes = encode_image(image, "png", 90, {{"parameters", "a cat\nSteps: 4"}});
  const Image back = decode_image(bytes, "x");
  EXPECT_EQ(back.width, 33);
  EXPECT_EQ(back.height, 17);
  EXPECT_EQ(back.rgb, image.rgb);
  const std::string text(bytes.begin(), bytes.end());
  EXPECT_NE(text.find("parameters"), std::string::npos);
  EXPECT_NE(text.find("a cat\nSteps: 4"), std::string::npos);
}

TEST(ImageCodec, JpegRoundTripIsCloseAndCarriesParametersAsComment) {
  const Image image = test_picture(64, 48);
  const auto bytes = encode_image(image, "jpg", 95, {{"parameters", "a dog, Seed: 7"}});
  const Image back = decode_image(bytes, "x");
  ASSERT_EQ(back.width, 64);
  ASSERT_EQ(back.height, 48);
  EXPECT_LT(mean_abs_error(image, back), 3.0);
  // The comment marker (0xFFFE) holds the text verbatim.
  const std::string text(bytes.begin(), bytes.end());
  const size_t at = text.find("a dog, Seed: 7");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(static_cast<uint8_t>(text[at - 4]), 0xff);
  EXPECT_EQ(static_cast<uint8_t>(text[at - 3]), 0xfe);
  // Lower quality gives smaller files.
  EXPECT_LT(encode_image(image, "jpeg", 20).size(), encode_image(image, "jpeg", 95).size());
}

TEST(ImageCodec, WebpRoundTripIsCloseAndLosslessAtQuality100) {
  const Image image = test_picture(40, 30);
  const Image lossy = decode_image(encode_image(image, "webp", 90), "x");
  ASSERT_EQ(lossy.width, 40);
  ASSERT_EQ(lossy.height, 30);
  EXPECT_LT(mean_abs_error(image, lossy), 4.0);
  EXPECT_EQ(decode_image(encode_image(image, "webp", 100), "x").rgb, image.rgb);
}

TEST(ImageCodec, SolidColoursSurviveEveryFormat) {
  const Image red = solid(16, 16, 200, 30, 40);
  for (const char* format : {"png", "jpeg", "webp"}) {
    const Image back = decode_image(encode_image(red, format, 90), format);
    EXPECT_LT(mean_abs_error(red, back), 3.0) << format;
  }
}

TEST(ImageCodec, EncodeValidatesArguments) {
  const Image image = test_picture(8, 8);
  EXPECT_THROW(encode_image(image, "gif"), Error);
  EXPECT_THROW(encode_image(image, "jpeg", 0), Error);
  EXPECT_THROW(encode_image(image, "webp", 101), Error);
  Image broken = image;
  broken.rgb.pop_back();
  for (const char* format : {"png", "jpeg", "webp"})
    EXPECT_THROW(encode_image(broken, format), Error) << format;
  EXPECT_THROW(encode_image(Image{}, "jpeg"), Error);
}

void expect_rejected(const std::vector<uint8_t>& bytes, const std::string& label) {
  try {
    decode_image(bytes, "upload");
    ADD_FAILURE() << label << " decoded";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("upload: ", 0), 0u) << label << ": " << e.what();
  }
}

TEST(ImageCodec, TruncatedInputOfEveryFormatIsAnError) {
  const Image image = test_picture(48, 48);
  for (const char* format : {"png", "jpeg", "webp"}) {
    const auto bytes = encode_image(image, format, 90);
    for (double keep : {0.02, 0.25, 0.5, 0.9}) {
      std::vector<uint8_t> part(bytes.begin(), bytes.begin() + bytes.size() * keep);
      expect_rejected(part, std::string(format) + " cut to " + std::to_string(keep));
    }
    expect_rejected(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 3), format);
  }
}

TEST(ImageCodec, CorruptInputOfEveryFormatIsAnErrorOrAnImage) {
  // Flipping bytes may land in places a decoder cannot check (JPEG entropy data has no
  // checksum): what matters is a clear error or a well-formed image, never a crash.
  const Image image = test_picture(48, 48);
  for (const char* format : {"png", "jpeg", "webp"}) {
    const auto clean = encode_image(image, format, 90);
    for (size_t seed = 1; seed <= 40; ++seed) {
      auto bytes = clean;
      for (size_t i = 12 + seed; i < bytes.size(); i += 7 + seed) bytes[i] ^= 0xa5;
      try {
        const Image back = decode_image(bytes, "upload");
        EXPECT_EQ(back.rgb.size(), static_cast<size_t>(back.width) * back.height * 3);
      } catch (const Error&) {
      }
    }
  }
  // A header-level corruption is always caught.
  auto png = encode_image(image, "png");
  for (size_t i = 40; i < png.size(); i += 5) png[i] ^= 0x5a;
  expect_rejected(png, "png with corrupt body");
  auto webp = encode_image(image, "webp", 90);
  webp[12] = 'X';  // chunk tag VP8 -> XP8
  expect_rejected(webp, "webp with unknown chunk");
  auto jpeg = encode_image(image, "jpeg", 90);
  jpeg[3] ^= 0xff;  // the first marker
  expect_rejected(jpeg, "jpeg with corrupt marker");
}

TEST(ImageCodec, RejectsUnknownEmptyAndOversizedImages) {
  expect_rejected({}, "empty");
  expect_rejected({'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0}, "gif");
  expect_rejected({'h', 'e', 'l', 'l', 'o'}, "text");
  // A JPEG whose frame header claims 9000x9000 (encode a small one, patch the SOF0 size).
  auto jpeg = encode_image(test_picture(8, 8), "jpeg", 90);
  for (size_t i = 2; i + 8 < jpeg.size(); ++i)
    if (jpeg[i] == 0xff && jpeg[i + 1] == 0xc0) {
      jpeg[i + 5] = 9000 >> 8;
      jpeg[i + 6] = 9000 & 255;
      jpeg[i + 7] = 9000 >> 8;
      jpeg[i + 8] = 9000 & 255;
      break;
    }
  try {
    decode_image(jpeg, "upload");
    FAIL() << "oversized JPEG decoded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("9000x9000"), std::string::npos) << e.what();
  }
}

// A true one-channel JPEG, written with libjpeg directly.
std::vector<uint8_t> greyscale_jpeg(int w, int h, uint8_t level) {
  jpeg_compress_struct cinfo{};
  jpeg_error_mgr errors{};
  cinfo.err = jpeg_std_error(&errors);
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = w;
  cinfo.image_height = h;
  cinfo.input_components = 1;
  cinfo.in_color_space = JCS_GRAYSCALE;
  jpeg_set_defaults(&cinfo);
  jpeg_start_compress(&cinfo, TRUE);
  std::vector<uint8_t> row(w, level);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW pointer = row.data();
    jpeg_write_scanlines(&cinfo, &pointer, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::vector<uint8_t> bytes(buffer, buffer + size);
  std::free(buffer);
  return bytes;
}

TEST(ImageCodec, DecodesGreyscaleJpegAsRgb) {
  const Image back = decode_image(greyscale_jpeg(16, 8, 90), "x");
  ASSERT_EQ(back.width, 16);
  ASSERT_EQ(back.height, 8);
  EXPECT_LT(mean_abs_error(solid(16, 8, 90, 90, 90), back), 2.0);
}

TEST(Resize, ConstantImageStaysConstant) {
  const Image image = solid(10, 7, 12, 200, 99);
  for (auto [w, h] : {std::pair{3, 2}, {25, 13}, {10, 30}, {1, 1}}) {
    const Image out = resize_image(image, w, h);
    ASSERT_EQ(out.width, w);
    ASSERT_EQ(out.height, h);
    EXPECT_EQ(out.rgb, solid(w, h, 12, 200, 99).rgb) << w << "x" << h;
  }
}

Image grey_row(std::vector<uint8_t> values) {
  Image image{static_cast<int>(values.size()), 1, {}};
  for (uint8_t v : values) image.rgb.resize(image.rgb.size() + 3, v);
  return image;
}

std::vector<uint8_t> red_channel(const Image& image) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i < image.rgb.size(); i += 3) out.push_back(image.rgb[i]);
  return out;
}

TEST(Resize, ShrinkingAveragesAreas) {
  EXPECT_EQ(red_channel(resize_image(grey_row({0, 0, 255, 255}), 2, 1)),
            (std::vector<uint8_t>{0, 255}));
  EXPECT_EQ(red_channel(resize_image(grey_row({0, 100, 200, 40}), 1, 1)),
            (std::vector<uint8_t>{85}));
  // 3 -> 2: each output covers 1.5 source pixels.
  EXPECT_EQ(red_channel(resize_image(grey_row({0, 90, 180}), 2, 1)),
            (std::vector<uint8_t>{30, 150}));
  // A 2x2 checkerboard to 1x1 is its mean.
  Image board{2, 2, {0, 0, 0, 255, 255, 255, 255, 255, 255, 0, 0, 0}};
  EXPECT_EQ(resize_image(board, 1, 1).rgb, (std::vector<uint8_t>{128, 128, 128}));
}

TEST(Resize, GrowingInterpolatesBilinearly) {
  EXPECT_EQ(red_channel(resize_image(grey_row({0, 255}), 4, 1)),
            (std::vector<uint8_t>{0, 64, 191, 255}));
  // Vertical growth of a two-row image, horizontal shrink at the same time.
  Image two_rows{2, 2, {0, 0, 0, 0, 0, 0, 200, 200, 200, 200, 200, 200}};
  const Image out = resize_image(two_rows, 1, 4);
  EXPECT_EQ(red_channel(out), (std::vector<uint8_t>{0, 50, 150, 200}));
}

TEST(Resize, KeepsChannelsSeparateAndValidatesSizes) {
  const Image image = solid(4, 4, 255, 0, 10);
  EXPECT_EQ(resize_image(image, 2, 2).rgb, solid(2, 2, 255, 0, 10).rgb);
  EXPECT_EQ(resize_image(image, 4, 4).rgb, image.rgb);
  EXPECT_THROW(resize_image(image, 0, 4), Error);
  EXPECT_THROW(resize_image(image, 4, kMaxImageSide + 1), Error);
  EXPECT_THROW(resize_image(Image{}, 4, 4), Error);
}

}  // namespace
}  // namespace dd::io
