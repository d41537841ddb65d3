#include "http_openai_fixture.h"

#include "io/image_codec.h"

namespace dd::test {

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

TestServer* OpenAiApi::server_ = nullptr;
std::string OpenAiApi::key_;

void expect_openai_error(const TestServer::Reply& reply, int status, const std::string& param,
                         const std::string& type) {
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

}  // namespace dd::test
