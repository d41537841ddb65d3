// The OpenAI Images API (API.md section 5) against a real server with the tiny models:
// generations (b64_json and url), edits (multipart inpainting, masks by OpenAI's transparency
// rule), models, and errors in OpenAI's shape.
#include <gtest/gtest.h>
#include <png.h>
#include <webp/encode.h>

#include <array>
#include <functional>
#include <set>

#include "http_test_server.h"
#include "io/base64.h"
#include "io/image_codec.h"
#include "test_support.h"

namespace dd::test {
namespace {

using nlohmann::json;

std::set<std::string> keys_of(const json& object) {
  std::set<std::string> keys;
  for (const auto& item : object.items()) keys.insert(item.key());
  return keys;
}

io::Image gradient(int width, int height) {
  io::Image image{width, height, std::vector<uint8_t>(size_t(width) * height * 3)};
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      uint8_t* pixel = &image.rgb[(size_t(y) * width + x) * 3];
      pixel[0] = static_cast<uint8_t>(x * 255 / width);
      pixel[1] = static_cast<uint8_t>(y * 255 / height);
      pixel[2] = 128;
    }
  return image;
}

std::string png_of(const io::Image& image) {
  const auto bytes = io::encode_png(image);
  return std::string(bytes.begin(), bytes.end());
}

io::Image decode(const std::string& bytes) {
  return io::decode_image(std::vector<uint8_t>(bytes.begin(), bytes.end()), "reply");
}

class OpenAiApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (fixtures_dir().empty()) return;
    server_ = new TestServer();
    key_ = server_->service().accounts().create_key("openai-user").key;
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { DD_REQUIRE_FIXTURES(); }

  static TestServer::Reply edit(const httplib::MultipartFormDataItems& items,
                                const std::string& key = key_) {
    auto client = server_->client();
    const auto result =
        client.Post("/v1/images/edits", {{"Authorization", "Bearer " + key}}, items);
    TestServer::Reply reply;
    if (!result) return reply;
    reply.status = result->status;
    reply.body = result->body;
    reply.content_type = result->get_header_value("Content-Type");
    reply.json = json::parse(result->body, nullptr, false);
    return reply;
  }

  static TestServer* server_;
  static std::string key_;
};

TestServer* OpenAiApi::server_ = nullptr;
std::string OpenAiApi::key_;

void expect_openai_error(const TestServer::Reply& reply, int status, const std::string& param,
                         const std::string& type = "invalid_request_error") {
  EXPECT_EQ(reply.status, status) << reply.body;
  ASSERT_TRUE(reply.json.is_object()) << reply.body;
  EXPECT_EQ(keys_of(reply.json), std::set<std::string>{"error"});
  const auto& error = reply.json["error"];
  EXPECT_EQ(keys_of(error), (std::set<std::string>{"message", "type", "param", "code"}));
  EXPECT_TRUE(error["message"].is_string());
  EXPECT_EQ(error["type"], type);
  if (param.empty()) {
    EXPECT_TRUE(error["param"].is_null()) << error;
  } else {
    EXPECT_EQ(error["param"], param);
  }
}

TEST_F(OpenAiApi, GenerationsAnswersBase64Images) {
  const auto reply = server_->post("/v1/images/generations",
                                   {{"prompt", "a lighthouse"},
                                    {"n", 2},
                                    {"size", "64x64"},
                                    {"response_format", "b64_json"},
                                    {"user", "someone"},
                                    {"seed", 3}},
                                   key_);
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(keys_of(reply.json), (std::set<std::string>{"created", "data"}));
  EXPECT_TRUE(reply.json["created"].is_number_integer());
  EXPECT_GT(reply.json["created"].get<int64_t>(), 1'600'000'000);
  ASSERT_EQ(reply.json["data"].size(), 2u);
  for (const auto& item : reply.json["data"]) {
    EXPECT_EQ(keys_of(item), (std::set<std::string>{"b64_json", "revised_prompt"}));
    EXPECT_EQ(item["revised_prompt"], "a lighthouse");
    const auto bytes = io::base64_decode(item["b64_json"].get<std::string>(), "b64_json");
    EXPECT_EQ(io::sniff_image_format(bytes), "png");
    const auto image = io::decode_image(bytes, "b64_json");
    EXPECT_EQ(image.width, 64);
    EXPECT_EQ(image.height, 64);
  }
  EXPECT_NE(reply.json["data"][0]["b64_json"], reply.json["data"][1]["b64_json"]);
}

TEST_F(OpenAiApi, GenerationsByUrlServeThePublishedImageWithoutAKey) {
  const auto reply = server_->post(
      "/v1/images/generations", {{"prompt", "a tree"}, {"size", "128x64"}, {"model", "sdxl-base"}},
      key_);  // url default
  ASSERT_EQ(reply.status, 200) << reply.body;
  ASSERT_EQ(reply.json["data"].size(), 1u);
  const auto& item = reply.json["data"][0];
  EXPECT_EQ(keys_of(item), (std::set<std::string>{"url", "revised_prompt"}));
  const std::string url = item["url"];
  const std::string prefix = server_->base_url() + "/public/images/";
  ASSERT_EQ(url.rfind(prefix, 0), 0u) << url;
  const auto fetched = server_->get(url.substr(server_->base_url().size()));  // no key
  ASSERT_EQ(fetched.status, 200);
  EXPECT_EQ(fetched.content_type, "image/png");
  const auto image = decode(fetched.body);
  EXPECT_EQ(image.width, 128);
  EXPECT_EQ(image.height, 64);
}

TEST_F(OpenAiApi, OpenAiModelNamesMeanTheDefaultModelAndOutputFormatIsHonoured) {
  const auto reply = server_->post("/v1/images/generations",
                                   {{"prompt", "a cup"},
                                    {"model", "dall-e-3"},
                                    {"response_format", "b64_json"},
                                    {"output_format", "webp"}},
                                   key_);
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto bytes =
      io::base64_decode(reply.json["data"][0]["b64_json"].get<std::string>(), "b64_json");
  EXPECT_EQ(io::sniff_image_format(bytes), "webp");
}

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

// An RGBA PNG whose pixels come from pixel(x, y) -> {r, g, b, a}.
std::string rgba_png(int width, int height,
                     const std::function<std::array<uint8_t, 4>(int, int)>& pixel) {
  std::vector<uint8_t> rgba(size_t(width) * height * 4);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const auto value = pixel(x, y);
      std::copy(value.begin(), value.end(), rgba.begin() + (size_t(y) * width + x) * 4);
    }
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

std::string rgba_webp(int width, int height,
                      const std::function<std::array<uint8_t, 4>(int, int)>& pixel) {
  std::vector<uint8_t> rgba(size_t(width) * height * 4);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const auto value = pixel(x, y);
      std::copy(value.begin(), value.end(), rgba.begin() + (size_t(y) * width + x) * 4);
    }
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

TEST_F(OpenAiApi, ModelsAreListedOpenAiStyle) {
  const auto reply = server_->get("/v1/models", key_);
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(keys_of(reply.json), (std::set<std::string>{"object", "data"}));
  EXPECT_EQ(reply.json["object"], "list");
  std::set<std::string> ids;
  for (const auto& model : reply.json["data"]) {
    EXPECT_EQ(keys_of(model), (std::set<std::string>{"id", "object", "created", "owned_by"}));
    EXPECT_EQ(model["object"], "model");
    EXPECT_EQ(model["owned_by"], "diffusiond");
    EXPECT_TRUE(model["created"].is_number_integer());
    ids.insert(model["id"].get<std::string>());
  }
  std::set<std::string> available;
  for (const auto& model : server_->service().models().list())
    if (model.available()) available.insert(model.id);
  EXPECT_EQ(ids, available);
  EXPECT_EQ(ids.count("sd15-tiny"), 1u);

  const auto one = server_->get("/v1/models/stabilityai/stable-diffusion-xl-base-1.0", key_);
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.json["id"], "sdxl-tiny");
  expect_openai_error(server_->get("/v1/models/nope", key_), 404, "", "not_found_error");
}

TEST_F(OpenAiApi, BadGenerationRequestsGetOpenAiErrorsNamingTheParameter) {
  struct Case {
    std::string what;
    std::string body;
    std::string param;
  };
  const std::vector<Case> cases = {
      {"malformed JSON", "{\"prompt\": \"x\"", ""},
      {"missing prompt", R"({"n": 1})", "prompt"},
      {"prompt of wrong type", R"({"prompt": ["x"]})", "prompt"},
      {"n zero", R"({"prompt": "x", "n": 0})", "n"},
      {"n too many", R"({"prompt": "x", "n": 5})", "n"},
      {"n as text", R"({"prompt": "x", "n": "2"})", "n"},
      {"size without height", R"({"prompt": "x", "size": "64"})", "size"},
      {"size not a multiple of 8", R"({"prompt": "x", "size": "64x65"})", "size"},
      {"size too large", R"({"prompt": "x", "size": "2048x64"})", "size"},
      {"size with capital X", R"({"prompt": "x", "size": "64X64"})", "size"},
      {"size with spaces", R"({"prompt": "x", "size": " 64x64"})", "size"},
      {"size as number", R"({"prompt": "x", "size": 64})", "size"},
      {"unknown response_format", R"({"prompt": "x", "response_format": "png"})",
       "response_format"},
      {"unknown output_format", R"({"prompt": "x", "output_format": "gif"})", "output_format"},
      {"unknown model", R"({"prompt": "x", "model": "no-such-model"})", "model"},
      {"unknown sampler", R"({"prompt": "x", "sampler": "nope"})", "sampler"},
      {"steps out of range", R"({"prompt": "x", "steps": 0})", "steps"},
      {"user of wrong type", R"({"prompt": "x", "user": 7})", "user"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    expect_openai_error(
        server_->post_raw("/v1/images/generations", c.body, "application/json", key_), 400,
        c.param);
  }
  expect_openai_error(server_->post("/v1/images/generations", {{"prompt", "x"}}, "dd_wrong"), 401,
                      "", "authentication_error");
  expect_openai_error(server_->post("/v1/images/generations", {{"prompt", "x"}}), 401, "",
                      "authentication_error");
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
