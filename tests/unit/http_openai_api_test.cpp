// The OpenAI Images API (API.md section 5) against a real server with the tiny models:
// generations (b64_json and url), models, and errors in OpenAI's shape (edits:
// http_openai_edits_test.cpp).
#include <gtest/gtest.h>

#include <set>

#include "http_openai_fixture.h"
#include "io/base64.h"
#include "io/image_codec.h"

namespace dd::test {
namespace {

using nlohmann::json;

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

}  // namespace
}  // namespace dd::test
