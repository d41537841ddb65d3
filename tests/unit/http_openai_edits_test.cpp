// The OpenAI Images API's edits (API.md section 5) against a real server with the tiny models:
// multipart image-to-image and inpainting, masks by OpenAI's transparency rule, and errors in
// OpenAI's shape.
#include <gtest/gtest.h>
#include <png.h>
#include <webp/encode.h>

#include <array>
#include <functional>
#include <set>

#include "http_openai_fixture.h"
#include "io/base64.h"
#include "io/image_codec.h"

namespace dd::test {
namespace {

using nlohmann::json;

TEST_F(OpenAiApi, EditsRunImageToImageAndInpaintingFromMultipartUploads) {
  const std::string image = png_of(gradient(64, 64));
  io::Image mask_image = gradient(64, 64);
  for (size_t i = 0; i < mask_image.rgb.size(); ++i) mask_image.rgb[i] = i % 192 < 96 ? 255 : 0;
  const auto with_mask = edit({{"image", image, "image.png", "image/png"},
                               {"mask", png_of(mask_image), "mask.png", "image/png"},
                               {"prompt", "a window", "", ""},
                               {"n", "1", "", ""},
                               {"response_format", "b64_json", "", ""}});
  ASSERT_EQ(with_mask.status, 200) << with_mask.body;
  EXPECT_EQ(keys_of(with_mask.json), (std::set<std::string>{"created", "data"}));
  ASSERT_EQ(with_mask.json["data"].size(), 1u);
  EXPECT_EQ(keys_of(with_mask.json["data"][0]),
            (std::set<std::string>{"b64_json", "revised_prompt"}));
  const auto decoded = io::decode_image(
      io::base64_decode(with_mask.json["data"][0]["b64_json"].get<std::string>(), "b64"), "b64");
  EXPECT_EQ(decoded.width, 64);
  EXPECT_EQ(decoded.height, 64);

  // A JPEG and its mask in another size: both resized.
  const auto jpeg = io::encode_image(gradient(100, 60), "jpeg");
  const auto resized = edit({{"image[]", std::string(jpeg.begin(), jpeg.end()), "in.jpg", ""},
                             {"mask", png_of(gradient(100, 60)), "mask.png", "image/png"},
                             {"prompt", "a wall", "", ""},
                             {"size", "128x64", "", ""}});
  ASSERT_EQ(resized.status, 200) << resized.body;
  ASSERT_TRUE(resized.json["data"][0]["url"].is_string());
  const std::string url = resized.json["data"][0]["url"];
  const auto fetched = server_->get(url.substr(server_->base_url().size()));
  const auto result = decode(fetched.body);
  EXPECT_EQ(result.width, 128);
  EXPECT_EQ(result.height, 64);
}

using PixelFunction = std::function<std::array<uint8_t, 4>(int, int)>;

// RGBA bytes, row-major, from pixel(x, y) -> {r, g, b, a}.
std::vector<uint8_t> rgba_pixels(int width, int height, const PixelFunction& pixel) {
  std::vector<uint8_t> rgba(size_t(width) * height * 4);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const auto value = pixel(x, y);
      std::copy(value.begin(), value.end(), rgba.begin() + (size_t(y) * width + x) * 4);
    }
  return rgba;
}

// An RGBA PNG whose pixels come from pixel(x, y) -> {r, g, b, a}.
std::string rgba_png(int width, int height, const PixelFunction& pixel) {
  const auto rgba = rgba_pixels(width, height, pixel);
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  png.width = width;
  png.height = height;
  png.format = PNG_FORMAT_RGBA;
  png_alloc_size_t size = 0;
  png_image_write_to_memory(&png, nullptr, &size, 0, rgba.data(), 0, nullptr);
  std::string bytes(size, '\0');
  if (!png_image_write_to_memory(&png, bytes.data(), &size, 0, rgba.data(), 0, nullptr)) return "";
  bytes.resize(size);
  return bytes;
}

std::string rgba_webp(int width, int height, const PixelFunction& pixel) {
  const auto rgba = rgba_pixels(width, height, pixel);
  uint8_t* output = nullptr;
  const size_t size = WebPEncodeLosslessRGBA(rgba.data(), width, height, width * 4, &output);
  std::string bytes(reinterpret_cast<const char*>(output), size);
  WebPFree(output);
  return bytes;
}

// Left half transparent, painted black; right half opaque white. OpenAI's rule repaints the
// left half; the white = repaint rule would repaint the right one.
std::array<uint8_t, 4> transparent_left(int x, int) {
  return x < 32 ? std::array<uint8_t, 4>{0, 0, 0, 0} : std::array<uint8_t, 4>{255, 255, 255, 255};
}

// Top half transparent, the rest a colour.
std::array<uint8_t, 4> transparent_top(int, int y) {
  return y < 32 ? std::array<uint8_t, 4>{10, 20, 30, 0} : std::array<uint8_t, 4>{10, 200, 30, 255};
}

// The mask the last edit of `key`'s account handed to the worker (white = repaint).
io::Image last_mask(TestServer& server, const std::string& key) {
  const auto account = server.service().accounts().account_for_key(key);
  const auto jobs = server.service().jobs().list(account.value_or(""), 1, 0);
  if (jobs.empty() || jobs[0].spec.mask_path.empty()) return {};
  return io::read_png(jobs[0].spec.mask_path);
}

uint8_t mask_at(const io::Image& mask, int x, int y) {
  return mask.rgb.at((size_t(y) * mask.width + x) * 3);
}

TEST_F(OpenAiApi, EditMasksFollowOpenAiTransparency) {
  const std::string image = png_of(gradient(64, 64));
  const httplib::MultipartFormDataItems common = {{"prompt", "a door", "", ""},
                                                  {"steps", "1", "", ""},
                                                  {"response_format", "b64_json", "", ""}};
  auto with = [&](httplib::MultipartFormDataItems items) {
    items.insert(items.end(), common.begin(), common.end());
    return edit(items);
  };
  struct Case {
    std::string what;
    httplib::MultipartFormDataItems items;
    bool repaint_left;  // else the top half is repainted
  };
  io::Image white_left = gradient(64, 64);
  for (size_t i = 0; i < white_left.rgb.size(); ++i)
    white_left.rgb[i] = (i / 3) % 64 < 32 ? 255 : 0;
  const std::vector<Case> cases = {
      {"mask with transparency: transparent = repaint",
       {{"image", image, "a.png", "image/png"},
        {"mask", rgba_png(64, 64, transparent_left), "m.png", "image/png"}},
       true},
      {"WebP mask with transparency",
       {{"image", image, "a.png", "image/png"},
        {"mask", rgba_webp(64, 64, transparent_left), "m.webp", "image/webp"}},
       true},
      {"mask without alpha: white = repaint",
       {{"image", image, "a.png", "image/png"}, {"mask", png_of(white_left), "m.png", ""}},
       true},
      {"mask with an opaque alpha channel: white = repaint",
       {{"image", image, "a.png", "image/png"},
        {"mask",
         rgba_png(64, 64,
                  [](int x, int) {
                    const uint8_t v = x < 32 ? 255 : 0;
                    return std::array<uint8_t, 4>{v, v, v, 255};
                  }),
         "m.png", ""}},
       true},
      {"no mask: the image's transparency",
       {{"image", rgba_png(64, 64, transparent_top), "a.png", "image/png"}},
       false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const auto reply = with(c.items);
    ASSERT_EQ(reply.status, 200) << reply.body;
    const auto mask = last_mask(*server_, key_);
    ASSERT_EQ(mask.width, 64);
    const uint8_t left = c.repaint_left ? 255 : 0;
    const uint8_t right = c.repaint_left ? 0 : 255;
    EXPECT_EQ(mask_at(mask, 5, 50), left);
    EXPECT_EQ(mask_at(mask, 60, 50), 0);
    EXPECT_EQ(mask_at(mask, 60, 5), right);
    EXPECT_EQ(mask_at(mask, 5, 5), 255);
  }

  const auto jpeg = io::encode_image(gradient(64, 64), "jpeg");
  const std::vector<std::pair<std::string, std::string>> unmasked = {
      {"PNG without alpha", image},
      {"JPEG", std::string(jpeg.begin(), jpeg.end())},
      {"PNG with an opaque alpha channel", rgba_png(64, 64,
                                                    [](int, int) {
                                                      return std::array<uint8_t, 4>{1, 2, 3, 255};
                                                    })},
  };
  for (const auto& [what, bytes] : unmasked) {
    SCOPED_TRACE(what + " and no mask");
    expect_openai_error(with({{"image", bytes, "a", ""}}), 400, "mask");
  }
}

TEST_F(OpenAiApi, BadEditRequestsGetOpenAiErrorsNamingTheParameter) {
  const std::string image = png_of(gradient(64, 64));
  struct Case {
    std::string what;
    httplib::MultipartFormDataItems items;
    std::string param;
  };
  const std::vector<Case> cases = {
      {"missing image", {{"prompt", "x", "", ""}}, "image"},
      {"missing prompt", {{"image", image, "a.png", "image/png"}}, "prompt"},
      {"corrupt image",
       {{"image", "\x89PNG\r\n\x1a\n garbage", "a.png", "image/png"}, {"prompt", "x", "", ""}},
       "image"},
      {"text as image",
       {{"image", "hello", "a.png", "image/png"}, {"prompt", "x", "", ""}},
       "image"},
      {"truncated image",
       {{"image", image.substr(0, image.size() / 2), "a.png", "image/png"},
        {"prompt", "x", "", ""}},
       "image"},
      {"corrupt mask",
       {{"image", image, "a.png", "image/png"},
        {"mask", "not an image", "m.png", "image/png"},
        {"prompt", "x", "", ""}},
       "mask"},
      {"bad size",
       {{"image", image, "a.png", "image/png"}, {"prompt", "x", "", ""}, {"size", "big", "", ""}},
       "size"},
      {"n not a number",
       {{"image", image, "a.png", "image/png"}, {"prompt", "x", "", ""}, {"n", "two", "", ""}},
       "n"},
      {"n out of range",
       {{"image", image, "a.png", "image/png"}, {"prompt", "x", "", ""}, {"n", "9", "", ""}},
       "n"},
      {"strength out of range",
       {{"image", image, "a.png", "image/png"},
        {"prompt", "x", "", ""},
        {"strength", "1.5", "", ""}},
       "strength"},
      {"prompt sent as a file",
       {{"image", image, "a.png", "image/png"}, {"prompt", "x", "p.txt", ""}},
       "prompt"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    expect_openai_error(edit(c.items), 400, c.param);
  }
  expect_openai_error(
      server_->post_raw("/v1/images/edits", R"({"prompt": "x"})", "application/json", key_), 400,
      "");
  expect_openai_error(
      edit({{"image", image, "a.png", "image/png"}, {"prompt", "x", "", ""}}, "dd_wrong"), 401, "",
      "authentication_error");
  EXPECT_EQ(server_->get("/v1/models", key_).status, 200);  // still serving
}

}  // namespace
}  // namespace dd::test
