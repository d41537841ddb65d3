// The synchronous dialects: POST /sd answers with image bytes (seed 001), and the OpenAI-style
// generation API answers with base64 images and timings (seed 002), including img2img and
// inpainting.
#include <gtest/gtest.h>

#include "http_test_server.h"
#include "io/base64.h"
#include "io/image_codec.h"
#include "test_support.h"

namespace dd::http {
namespace {

using test::TestServer;

io::Image decode(const std::string& bytes) {
  return io::decode_image(std::vector<uint8_t>(bytes.begin(), bytes.end()), "reply");
}

std::string png_base64(int width, int height, uint8_t value) {
  io::Image image{width, height,
                  std::vector<uint8_t>(static_cast<size_t>(width) * height * 3, value)};
  return io::base64_encode(io::encode_image(image, "png"));
}

TEST(SdApi, AnswersWithImageBytes) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  const nlohmann::json body = {{"model", "sdxl-base"},
                               {"prompt", "Beautiful landscape"},
                               {"negative_prompt", "bad quality"},
                               {"token", "ignored in local mode"},
                               {"sampler", "Euler"},
                               {"steps", 3},
                               {"width", 96},
                               {"height", 64},
                               {"cfg_scale", 7},
                               {"loras", nlohmann::json::object()}};
  const auto reply = server.post("/sd", body);
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.content_type, "image/png");
  const auto image = decode(reply.body);
  EXPECT_EQ(image.width, 96);
  EXPECT_EQ(image.height, 64);

  auto jpeg = body;
  jpeg["format"] = "jpeg";
  jpeg["model"] = "sd15-tiny";  // the fixture LoRA is an SD 1.5 one
  jpeg["loras"] = {{"sd15-tiny-lora", 0.8}};
  const auto with_lora = server.post("/sd", jpeg);
  ASSERT_EQ(with_lora.status, 200) << with_lora.body;
  EXPECT_EQ(with_lora.content_type, "image/jpeg");
}

TEST(SdApi, ListsModelsSamplersAndLoras) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  const auto models = server.get("/models").json;
  EXPECT_NE(std::find(models.begin(), models.end(), "sd15-tiny"), models.end()) << models.dump();
  EXPECT_NE(std::find(models.begin(), models.end(), "sdxl-base"), models.end()) << models.dump();
  const auto samplers = server.get("/samplers").json;
  EXPECT_NE(std::find(samplers.begin(), samplers.end(), "Euler a"), samplers.end())
      << samplers.dump();
  EXPECT_EQ(server.get("/loras").json, nlohmann::json::array({"sd15-tiny-lora"}));
}

TEST(SdApi, TokenInTheBodyAuthenticates) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  const auto key = server.service().accounts().create_key("sd-user").key;
  nlohmann::json body = {{"prompt", "x"}, {"steps", 1}, {"width", 64}, {"height", 64}};
  EXPECT_EQ(server.post("/sd", body).status, 401);
  body["token"] = key;
  EXPECT_EQ(server.post("/sd", body).status, 200);
}

TEST(SdApi, BadInput) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  const std::vector<std::pair<nlohmann::json, std::string>> cases = {
      {{{"prompt", "x"}, {"steps", 31}}, "steps"},
      {{{"prompt", "x"}, {"width", 32}}, "width"},
      {{{"prompt", "x"}, {"cfg_scale", 0}}, "cfg_scale"},
      {{{"prompt", "x"}, {"sampler", "nope"}}, "sampler"},
      {{{"prompt", "x"}, {"loras", {{"nope", 1}}}}, "loras"},
      {{{"prompt", "x"}, {"loras", {{"a", 1}, {"b", 1}, {"c", 1}, {"d", 1}, {"e", 1}, {"f", 1}}}},
       "loras"},
      {{{"prompt", "x"}, {"loras", {{"sd15-tiny-lora", "heavy"}}}}, "loras"},
      {{{"prompt", "x"}, {"format", "gif"}}, "format"},
      {{{"prompt", "x"}, {"model", "../../etc/passwd"}}, "model"},
  };
  for (const auto& [body, param] : cases) {
    const auto reply = server.post("/sd", body);
    EXPECT_EQ(reply.status, 400) << body.dump() << " " << reply.body;
    EXPECT_EQ(reply.json["error"]["param"], param) << body.dump() << " " << reply.body;
  }
}

TEST(GenerationApi, TextToImageInTheSeedsShape) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  const auto reply = server.post("/api/v1/images/generation",
                                 {{"model", "stabilityai/stable-diffusion-xl-base-1.0"},
                                  {"prompt", "a lighthouse"},
                                  {"num_steps", 3},
                                  {"guidance_scale", 9},
                                  {"width", 64},
                                  {"height", 64},
                                  {"negative_prompt", nullptr},
                                  {"n", 2}});
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.json["model"], "stabilityai/stable-diffusion-xl-base-1.0");
  EXPECT_EQ(reply.json["object"], "list");
  EXPECT_EQ(reply.json["message"], "Image generated successfully");
  EXPECT_EQ(reply.json["status"], "success");
  ASSERT_EQ(reply.json["data"].size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const auto& item = reply.json["data"][i];
    EXPECT_EQ(item["index"], i);
    EXPECT_TRUE(item["timings"]["inference"].is_number());
    const auto bytes = io::base64_decode(item["b64_json"].get<std::string>(), "b64_json");
    EXPECT_EQ(io::decode_image(bytes, "b64").width, 64);
  }
}

TEST(GenerationApi, ImageToImageAndInpainting) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  nlohmann::json body = {{"prompt", "a red cap"},
                         {"num_steps", 4},
                         {"image", png_base64(96, 64, 200)},
                         {"strength", 0.5}};
  const auto img2img = server.post("/api/v1/images/generation", body);
  ASSERT_EQ(img2img.status, 200) << img2img.body;
  const auto bytes =
      io::base64_decode(img2img.json["data"][0]["b64_json"].get<std::string>(), "b64");
  const auto image = io::decode_image(bytes, "b64");
  EXPECT_EQ(image.width, 96) << "the picture's size decides";
  EXPECT_EQ(image.height, 64);
  body["mask"] = "data:image/png;base64," + png_base64(96, 64, 255);
  const auto inpaint = server.post("/api/v1/images/generation", body);
  EXPECT_EQ(inpaint.status, 200) << inpaint.body;
}

TEST(GenerationApi, BadImagesAndParameters) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  const std::vector<std::pair<nlohmann::json, std::string>> cases = {
      {{{"prompt", "x"}, {"image", "!!!not base64!!!"}}, "image"},
      {{{"prompt", "x"}, {"image", io::base64_encode(std::string("GIF89a garbage"))}}, "image"},
      {{{"prompt", "x"}, {"image", png_base64(60, 60, 1)}}, "image"},
      {{{"prompt", "x"}, {"mask", png_base64(64, 64, 1)}}, "mask"},
      {{{"prompt", "x"}, {"image", png_base64(64, 64, 1)}, {"mask", "AAAA"}}, "mask"},
      {{{"prompt", "x"}, {"n", 5}}, "n"},
      {{{"prompt", "x"}, {"num_steps", "many"}}, "num_steps"},
      {{{"prompt", "x"}, {"strength", 0.5}}, "strength"},
      {{{"prompt", ""}}, "prompt"},
  };
  for (const auto& [body, param] : cases) {
    const auto reply = server.post("/api/v1/images/generation", body);
    EXPECT_EQ(reply.status, 400) << body.dump().substr(0, 200) << " " << reply.body;
    EXPECT_EQ(reply.json["error"]["param"], param)
        << body.dump().substr(0, 200) << " " << reply.body;
  }
}

}  // namespace
}  // namespace dd::http

namespace dd::http {
namespace {

// The single-file model with its architecture and tokenizer named by its sidecar.
TEST(SdApi, SingleFileModelFromItsSidecar) {
  DD_REQUIRE_FIXTURES();
  test::TestServer server;
  const auto info = server.service().models().find("sd15-tiny-single");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->error, "");
  const auto reply = server.post("/sd", {{"model", "sd15-tiny-single"}, {"prompt", "x"}});
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(decode(reply.body).width, 64);
}

// A synchronous request that gives up waiting (504) cancels its job: nobody would collect it.
TEST(SyncTimeout, AnAbandonedJobIsCancelled) {
  DD_REQUIRE_FIXTURES();
  test::TestServerOptions options;
  options.start_worker = false;  // nothing runs, so every wait gives up
  options.sync_timeout_ms = 20;
  test::TestServer server(options);
  const std::vector<std::pair<std::string, nlohmann::json>> requests = {
      {"/sd", {{"prompt", "x"}}},
      {"/api/v1/images/generation", {{"prompt", "x"}}},
      {"/v1/images/imagine", {{"name", "n"}, {"prompt", "x"}}},
      {"/v1/images/generations", {{"prompt", "x"}}},
  };
  for (const auto& [path, body] : requests) {
    const auto reply = server.post(path, body);
    EXPECT_EQ(reply.status, 504) << path << " " << reply.body;
    EXPECT_EQ(reply.json["error"]["code"], "timeout") << path << " " << reply.body;
  }
  const auto jobs = server.service().jobs().list(service::kLocalAccount, 10, 0);
  ASSERT_EQ(jobs.size(), requests.size());
  for (const auto& job : jobs) EXPECT_EQ(job.status, service::JobStatus::Cancelled) << job.dialect;
  EXPECT_EQ(server.service().jobs().queued_count(), 0);
}

}  // namespace
}  // namespace dd::http
