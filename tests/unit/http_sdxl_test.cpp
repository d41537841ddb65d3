// The SDXL family through every generation dialect, on the tiny SDXL fixture model: the seeds'
// SDXL model names, the micro-conditioning extension fields (they reach the engine: the same seed
// with other values gives another picture), their validation, and the Lightning-style fast model
// whose sidecar-free defaults (4 trailing Euler steps, no CFG) every API uses.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "http_test_server.h"
#include "io/base64.h"
#include "io/image.h"
#include "service/crypto.h"
#include "test_support.h"

namespace dd::http {
namespace {

using nlohmann::json;
using test::TestServer;

std::string decoded(const json& reply) {
  const auto bytes = io::base64_decode(reply["data"][0]["b64_json"].get<std::string>(), "b64_json");
  return std::string(bytes.begin(), bytes.end());
}

// The A1111 `parameters` text of PNG bytes.
std::string png_parameters(const std::string& bytes) {
  const auto path =
      std::filesystem::temp_directory_path() / ("dd_sdxl_" + service::random_hex(6) + ".png");
  std::ofstream(path, std::ios::binary) << bytes;
  auto text = io::read_png_text(path.string());
  std::filesystem::remove(path);
  return text["parameters"];
}

class SdxlHttp : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!test::fixtures_dir().empty()) server_ = new TestServer();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { DD_REQUIRE_FIXTURES(); }

  // Image bytes of one generation through each dialect, micro-conditioning fields merged in.
  static std::string sd(const json& extra) {
    json body = {{"model", "sdxl-base"}, {"prompt", "a lighthouse"},
                 {"steps", 3},           {"width", 64},
                 {"height", 64},         {"seed", 5}};
    body.update(extra);
    const auto reply = server_->post("/sd", body);
    EXPECT_EQ(reply.status, 200) << reply.body;
    return reply.body;
  }
  static std::string generation(const json& extra) {
    json body = {{"model", "stabilityai/stable-diffusion-xl-base-1.0"},
                 {"prompt", "a lighthouse"},
                 {"num_steps", 3},
                 {"guidance_scale", 7},
                 {"width", 64},
                 {"height", 64},
                 {"negative_prompt", nullptr},
                 {"seed", 5}};
    body.update(extra);
    const auto reply = server_->post("/api/v1/images/generation", body);
    EXPECT_EQ(reply.status, 200) << reply.body;
    EXPECT_EQ(reply.json["model"], "stabilityai/stable-diffusion-xl-base-1.0");
    return decoded(reply.json);
  }
  static std::string jobs(const json& extra) {
    json body = {{"model", "sdxl-base"},
                 {"prompt", "a lighthouse"},
                 {"width", 64},
                 {"height", 64},
                 {"seed", 5}};
    body.update(extra);
    const auto created = server_->post("/v0/api/images", body);
    EXPECT_EQ(created.status, 200) << created.body;
    const auto job = server_->wait_for_job(created.json["jobId"]);
    EXPECT_EQ(job["status"], "SUCCESS") << job.dump();
    return server_->get("/files/" + job["outputFiles"][0]["path"].get<std::string>()).body;
  }
  static std::string openai(const json& extra) {
    json body = {{"model", "sdxl-base"},
                 {"prompt", "a lighthouse"},
                 {"size", "64x64"},
                 {"response_format", "b64_json"},
                 {"seed", 5}};
    body.update(extra);
    const auto reply = server_->post("/v1/images/generations", body);
    EXPECT_EQ(reply.status, 200) << reply.body;
    return decoded(reply.json);
  }
  static std::string imagine(const json& extra) {
    json body = {{"name", "sdxl"}, {"prompt", "a lighthouse"}, {"seed", 5}};
    body.update(extra);
    const auto reply = server_->post("/v1/images/imagine", body);
    EXPECT_EQ(reply.status, 200) << reply.body;
    return server_->get("/v1/images/" + reply.json["id"].get<std::string>() + "/content").body;
  }

  static TestServer* server_;
};

TestServer* SdxlHttp::server_ = nullptr;

const json kSnakeMicro = {{"original_size", {1024, 768}},
                          {"crops_coords_top_left", {16, 0}},
                          {"target_size", {1024, 1024}},
                          {"negative_original_size", {512, 512}}};

TEST_F(SdxlHttp, EverySnakeCaseDialectPassesMicroConditioningToTheEngine) {
  using Dialect = std::string (*)(const json&);
  const std::vector<std::pair<const char*, Dialect>> dialects = {
      {"sd", &SdxlHttp::sd},
      {"generation", &SdxlHttp::generation},
      {"openai", &SdxlHttp::openai},
      {"imagine", &SdxlHttp::imagine}};
  for (const auto& [name, run] : dialects) {
    const auto plain = run(json::object());
    EXPECT_EQ(plain, run(json::object())) << name << ": same request, other picture";
    EXPECT_NE(plain, run(kSnakeMicro)) << name << ": micro-conditioning was not used";
    // Spelling out the defaults changes nothing.
    EXPECT_EQ(plain, run({{"crops_coords_top_left", {0, 0}}})) << name;
  }
}

TEST_F(SdxlHttp, JobsApiTakesCamelCaseMicroConditioning) {
  const auto plain = jobs(json::object());
  EXPECT_NE(plain, jobs({{"originalSize", {1024, 768}}, {"cropsCoordsTopLeft", {16, 0}}}));
  EXPECT_EQ(plain, jobs({{"targetSize", {64, 64}}}));  // the default, spelled out
}

TEST_F(SdxlHttp, TheFastModelIsTheImagineDefaultAndUsesItsFewStepDefaults) {
  const auto bytes = imagine(json::object());
  const auto parameters = png_parameters(bytes);
  EXPECT_NE(parameters.find("Steps: 4"), std::string::npos) << parameters;
  EXPECT_NE(parameters.find("Sampler: Euler"), std::string::npos) << parameters;
  EXPECT_NE(parameters.find("CFG scale: 1"), std::string::npos) << parameters;
  EXPECT_NE(parameters.find("sdxl-lightning-tiny"), std::string::npos) << parameters;

  // Another dialect naming the fast model without steps gets the same few-step defaults.
  const auto reply = server_->post(
      "/sd", {{"model", "sdxl-lightning-tiny"}, {"prompt", "a lighthouse"}, {"seed", 5}});
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto sd_parameters = png_parameters(reply.body);
  EXPECT_NE(sd_parameters.find("Steps: 4"), std::string::npos) << sd_parameters;
  EXPECT_NE(sd_parameters.find("CFG scale: 1"), std::string::npos) << sd_parameters;
}

TEST_F(SdxlHttp, BadMicroConditioningIsA400NamingTheField) {
  const std::vector<std::tuple<std::string, json, std::string>> cases = {
      {"/sd", {{"prompt", "x"}, {"original_size", {1024}}}, "original_size"},
      {"/sd", {{"prompt", "x"}, {"target_size", {0, 64}}}, "target_size"},
      {"/api/v1/images/generation",
       {{"prompt", "x"}, {"crops_coords_top_left", {-1, 0}}},
       "crops_coords_top_left"},
      {"/v1/images/generations",
       {{"prompt", "x"}, {"negative_target_size", "64x64"}},
       "negative_target_size"},
      {"/v1/images/imagine",
       {{"name", "n"}, {"prompt", "x"}, {"original_size", {1e9, 64}}},
       "original_size"},
      {"/v0/api/images", {{"prompt", "x"}, {"originalSize", {64, 64.5}}}, "originalSize"},
      {"/v0/api/images",
       {{"prompt", "x"}, {"negativeCropsCoordsTopLeft", json::object()}},
       "negativeCropsCoordsTopLeft"},
  };
  for (const auto& [path, body, param] : cases) {
    const auto reply = server_->post(path, body);
    EXPECT_EQ(reply.status, 400) << path << " " << body.dump() << ": " << reply.body;
    EXPECT_NE(reply.body.find(param), std::string::npos) << reply.body;
  }
  EXPECT_EQ(server_->get("/health").status, 200);
}

}  // namespace
}  // namespace dd::http
