// The jobs API's extensions over real sockets: `loras` by name (alone and beside a character),
// img2img and inpainting from an `image` and `mask` — each making the pixels another dialect makes
// from the same request, at the image's size, with progress on the job's event stream — and a 400
// naming the field for each bad input, with nothing left behind.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "http_test_server.h"
#include "io/base64.h"
#include "io/image.h"
#include "io/image_codec.h"
#include "test_support.h"

namespace dd::http {
namespace {

namespace fs = std::filesystem;
using test::TestServer;

constexpr const char* kLora = "sd15-tiny-lora";

// A picture of one colour with a lighter square, so img2img has something to keep.
io::Image picture(int width, int height, uint8_t value) {
  io::Image image{width, height,
                  std::vector<uint8_t>(static_cast<size_t>(width) * height * 3, value)};
  for (int y = height / 4; y < height / 2; ++y)
    for (int x = width / 4; x < width / 2; ++x)
      for (int c = 0; c < 3; ++c)
        image.rgb[(static_cast<size_t>(y) * width + x) * 3 + c] = static_cast<uint8_t>(255 - value);
  return image;
}

std::string png_base64(int width, int height, uint8_t value) {
  return io::base64_encode(io::encode_image(picture(width, height, value), "png"));
}

std::vector<uint8_t> bytes_of(const std::string& text) { return {text.begin(), text.end()}; }

// Queues a job, waits for it and answers its job object and first image.
struct Ran {
  nlohmann::json job;
  io::Image image;
};

Ran run_job(const TestServer& server, const nlohmann::json& body) {
  const auto created = server.post("/v0/api/images", body);
  EXPECT_EQ(created.status, 200) << created.body;
  if (created.status != 200) return {};
  Ran ran;
  ran.job = server.wait_for_job(created.json["jobId"]);
  EXPECT_EQ(ran.job["status"], "SUCCESS") << ran.job.dump();
  if (ran.job["status"] != "SUCCESS") return ran;
  const std::string url = ran.job["outputFiles"][0]["url"];
  const auto file = server.get(url.substr(server.base_url().size()));
  EXPECT_EQ(file.status, 200);
  ran.image = io::decode_image(bytes_of(file.body), "output");
  return ran;
}

// The first image another dialect's base64 answer carries.
io::Image b64_image(const TestServer::Reply& reply) {
  const auto bytes = io::base64_decode(reply.json["data"][0]["b64_json"].get<std::string>(), "b64");
  return io::decode_image(bytes, "b64");
}

// How many events of each kind the job's (retained) event stream holds.
std::map<std::string, int> event_counts(const TestServer& server, const std::string& id) {
  const auto stream = server.get("/v0/api/jobs/" + id + "/events");
  EXPECT_EQ(stream.status, 200);
  std::map<std::string, int> counts;
  for (size_t at = 0; (at = stream.body.find("event: ", at)) != std::string::npos;) {
    const size_t end = stream.body.find('\n', at);
    ++counts[stream.body.substr(at + 7, end - at - 7)];
    at = end;
  }
  return counts;
}

size_t input_files(const TestServer& server) {
  const fs::path dir = fs::path(server.data_dir()) / "inputs";
  if (!fs::exists(dir)) return 0;
  return static_cast<size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

const nlohmann::json kBase = {{"prompt", "a lighthouse at dusk"},
                              {"seed", 11},
                              {"steps", 4},
                              {"sampler", "euler"},
                              {"guidanceScale", 7},
                              {"width", 64},
                              {"height", 64}};

TEST(JobsApiExtensions, LorasChangeTheImageAsOnTheSdDialect) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  const auto plain = run_job(server, kBase);
  auto body = kBase;
  body["loras"] = {{{"name", kLora}, {"weight", 1.0}}};
  const auto with_lora = run_job(server, body);
  ASSERT_FALSE(plain.image.rgb.empty());
  ASSERT_FALSE(with_lora.image.rgb.empty());
  EXPECT_NE(plain.image.rgb, with_lora.image.rgb) << "the LoRA made no difference";
  ASSERT_EQ(with_lora.job["payload"]["loras"].size(), 1u);
  EXPECT_EQ(with_lora.job["payload"]["loras"][0]["name"], kLora);
  EXPECT_EQ(with_lora.job["payload"]["loras"][0]["weight"], 1.0);

  const auto sd = server.post("/sd", {{"prompt", kBase["prompt"]},
                                      {"seed", 11},
                                      {"steps", 4},
                                      {"sampler", "euler"},
                                      {"cfg_scale", 7},
                                      {"width", 64},
                                      {"height", 64},
                                      {"loras", {{kLora, 1.0}}}});
  ASSERT_EQ(sd.status, 200) << sd.body;
  EXPECT_EQ(io::decode_image(bytes_of(sd.body), "sd").rgb, with_lora.image.rgb)
      << "the same LoRA through /sd made other pixels";

  // A weight defaults to 1: the same image.
  body["loras"] = {{{"name", kLora}}};
  EXPECT_EQ(run_job(server, body).image.rgb, with_lora.image.rgb);
}

TEST(JobsApiExtensions, LorasGoBesideACharactersLora) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  const auto character = server.add_tiny_character("Ada", "person", "ada");
  ASSERT_EQ(character.status, 200) << character.body;
  const std::string id = character.json["character"]["id"];
  auto body = kBase;
  body["prompt"] = "a portrait of <" + id + ">";
  body["loras"] = {{{"name", kLora}, {"weight", -0.5}}};
  const auto ran = run_job(server, body);
  const auto& loras = ran.job["payload"]["loras"];
  ASSERT_EQ(loras.size(), 2u) << ran.job.dump();
  EXPECT_EQ(loras[0]["name"], id);
  EXPECT_EQ(loras[0]["meta"]["class"], "person");
  EXPECT_EQ(loras[1]["name"], kLora);
  EXPECT_EQ(loras[1]["weight"], -0.5);
  EXPECT_NE(ran.job["payload"]["conditionedPrompt"].get<std::string>().find("ada"),
            std::string::npos);
}

TEST(JobsApiExtensions, ImageToImageAndInpaintingRunAtTheImagesSizeWithProgress) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  const std::string image = png_base64(96, 64, 60);
  nlohmann::json body = {{"prompt", "a red cap"}, {"seed", 3},      {"steps", 4},
                         {"sampler", "euler"},    {"image", image}, {"strength", 0.5}};
  const auto img2img = run_job(server, body);
  EXPECT_EQ(img2img.image.width, 96) << "the picture's size decides";
  EXPECT_EQ(img2img.image.height, 64);
  EXPECT_EQ(img2img.job["payload"]["width"], 96);
  const auto counts = event_counts(server, img2img.job["id"]);
  EXPECT_GT(counts.count("progress") ? counts.at("progress") : 0, 0) << "no progress events";
  EXPECT_GT(counts.count("preview") ? counts.at("preview") : 0, 0) << "no previews";

  // The same request through the generation API makes the same pixels.
  const auto generation = server.post("/api/v1/images/generation", {{"prompt", "a red cap"},
                                                                    {"seed", 3},
                                                                    {"num_steps", 4},
                                                                    {"sampler", "euler"},
                                                                    {"image", image},
                                                                    {"strength", 0.5}});
  ASSERT_EQ(generation.status, 200) << generation.body;
  EXPECT_EQ(b64_image(generation).rgb, img2img.image.rgb);

  // Inpainting: a data: URL mask of the image's size, a width that matches; strength 1 by
  // default, so the picture differs from the img2img one.
  body.erase("strength");
  body["width"] = 96;
  body["mask"] = "data:image/png;base64," + png_base64(96, 64, 255);
  body["loras"] = {{{"name", kLora}, {"weight", 0.8}}};
  const auto inpaint = run_job(server, body);
  EXPECT_EQ(inpaint.image.width, 96);
  EXPECT_EQ(inpaint.image.height, 64);
  EXPECT_NE(inpaint.image.rgb, img2img.image.rgb);
  const auto inpaint_counts = event_counts(server, inpaint.job["id"]);
  EXPECT_EQ(inpaint_counts.count("progress") ? inpaint_counts.at("progress") : 0, 4);
  EXPECT_EQ(inpaint_counts.count("job"), 1u);
}

TEST(JobsApiExtensions, EachBadInputIsA400NamingItsFieldAndLeavesNoFile) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  const std::string image = png_base64(64, 64, 90);
  const std::vector<std::pair<nlohmann::json, std::string>> cases = {
      {{{"image", "!!!not base64!!!"}}, "image"},
      {{{"image", io::base64_encode(std::string("GIF89a garbage"))}}, "image"},
      {{{"image", 42}}, "image"},
      {{{"image", png_base64(60, 60, 1)}}, "image"},
      {{{"image", png_base64(1032, 64, 1)}}, "image"},
      {{{"image", image}, {"width", 128}}, "width"},
      {{{"image", image}, {"height", 72}}, "height"},
      {{{"mask", image}}, "mask"},
      {{{"image", image}, {"mask", "AAAA"}}, "mask"},
      {{{"image", image}, {"mask", png_base64(64, 72, 255)}}, "mask"},
      {{{"strength", 0.5}}, "strength"},
      {{{"image", image}, {"strength", 1.5}}, "strength"},
      {{{"loras", "sd15-tiny-lora"}}, "loras"},
      {{{"loras", {{{"weight", 1}}}}}, "loras"},
      {{{"loras", {{{"name", kLora}, {"weight", 11}}}}}, "loras"},
      {{{"loras", {{{"name", kLora}, {"weight", "strong"}}}}}, "loras"},
      {{{"loras", {{{"name", "no-such-lora"}}}}}, "loras"},
      {{{"loras", nlohmann::json::array({kLora})}}, "loras"},
      // Stored first, refused after: the image must not stay behind.
      {{{"image", image}, {"loras", {{{"name", "no-such-lora"}}}}}, "loras"},
      {{{"image", image}, {"model", "no-such-model"}}, "model"},
  };
  for (auto [body, param] : cases) {
    body["prompt"] = "x";
    const auto reply = server.post("/v0/api/images", body);
    EXPECT_EQ(reply.status, 400) << body.dump().substr(0, 200) << " " << reply.body;
    EXPECT_EQ(reply.json["error"]["param"], param)
        << body.dump().substr(0, 200) << " " << reply.body;
  }
  nlohmann::json many = nlohmann::json::array();
  for (int i = 0; i < 9; ++i) many.push_back({{"name", kLora}});
  const auto too_many = server.post("/v0/api/images", {{"prompt", "x"}, {"loras", many}});
  EXPECT_EQ(too_many.status, 400) << too_many.body;
  EXPECT_EQ(too_many.json["error"]["param"], "loras");
  EXPECT_EQ(input_files(server), 0u) << "a refused request left its pictures behind";
}

TEST(JobsApiExtensions, OpenApiListsTheExtensionFields) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  const auto spec = server.get("/openapi.json");
  ASSERT_EQ(spec.status, 200);
  const auto& properties = spec.json["paths"]["/v0/api/images"]["post"]["requestBody"]["content"]
                                    ["application/json"]["schema"]["properties"];
  for (const char* field : {"loras", "image", "mask", "strength"})
    EXPECT_TRUE(properties.contains(field)) << field << " " << properties.dump().substr(0, 300);
}

}  // namespace
}  // namespace dd::http
