// AUTOMATIC1111's txt2img and img2img (/sdapi/v1): field names and defaults, the answer's
// images / parameters / info, <lora:...> tags, override_settings, and refusals of what is not
// supported.
#include <gtest/gtest.h>

#include "http_test_server.h"
#include "io/base64.h"
#include "io/image.h"
#include "io/image_codec.h"
#include "test_support.h"

namespace dd::http {
namespace {

using nlohmann::json;
using test::TestServer;

io::Image decode_b64(const std::string& text) {
  return io::decode_image(io::base64_decode(text, "image"), "image");
}

std::string png_base64(int width, int height, uint8_t value) {
  io::Image image{width, height,
                  std::vector<uint8_t>(static_cast<size_t>(width) * height * 3, value)};
  return io::base64_encode(io::encode_image(image, "png"));
}

const json kSmall = {{"prompt", "a red cube"}, {"steps", 2}, {"width", 64}, {"height", 64}};

TEST(A1111Api, Txt2ImgAnswersImagesParametersAndInfo) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  json body = kSmall;
  body["seed"] = 42;
  body["sampler_name"] = "Euler a";
  body["negative_prompt"] = "blurry";
  body["batch_size"] = 2;
  const auto reply = server.post("/sdapi/v1/txt2img", body);
  ASSERT_EQ(reply.status, 200) << reply.body;
  ASSERT_EQ(reply.json["images"].size(), 2u);
  const auto image = decode_b64(reply.json["images"][0]);
  EXPECT_EQ(image.width, 64);
  EXPECT_EQ(image.height, 64);
  // parameters: A1111's defaults overlaid by the request.
  const auto& parameters = reply.json["parameters"];
  EXPECT_EQ(parameters["prompt"], "a red cube");
  EXPECT_EQ(parameters["steps"], 2);
  EXPECT_EQ(parameters["cfg_scale"], 7.0);
  EXPECT_EQ(parameters["n_iter"], 1);
  EXPECT_EQ(parameters["enable_hr"], false);
  // info: a JSON string of what ran.
  const auto info = json::parse(reply.json["info"].get<std::string>());
  EXPECT_EQ(info["seed"], 42);
  EXPECT_EQ(info["all_seeds"], json::array({42, 43}));
  EXPECT_EQ(info["sampler_name"], "Euler a");
  EXPECT_EQ(info["steps"], 2);
  EXPECT_EQ(info["width"], 64);
  EXPECT_EQ(info["sd_model_name"], "sd15-tiny");
  ASSERT_EQ(info["infotexts"].size(), 2u);
  EXPECT_NE(info["infotexts"][0].get<std::string>().find("Negative prompt: blurry"),
            std::string::npos)
      << info.dump();
}

TEST(A1111Api, DefaultsAreA1111sBelowTheModels) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  // sd15-tiny-single's sidecar sets steps 2 and 64x64: they win over A1111's 50 and 512.
  const json body = {{"prompt", "x"},
                     {"override_settings", {{"sd_model_checkpoint", "sd15-tiny-single"}}}};
  const auto reply = server.post("/sdapi/v1/txt2img", body);
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto info = json::parse(reply.json["info"].get<std::string>());
  EXPECT_EQ(info["steps"], 2);
  EXPECT_EQ(info["width"], 64);
  EXPECT_EQ(info["cfg_scale"], 7.0);  // A1111's default; the sidecar sets none
  EXPECT_EQ(info["sd_model_name"], "sd15-tiny-single");
  // The parameters answer carries A1111's own defaults.
  EXPECT_EQ(reply.json["parameters"]["steps"], 50);
  EXPECT_EQ(reply.json["parameters"]["width"], 512);
}

TEST(A1111Api, SendImagesFalseAnswersNoImages) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  json body = kSmall;
  body["send_images"] = false;
  const auto reply = server.post("/sdapi/v1/txt2img", body);
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_TRUE(reply.json["images"].empty());
}

TEST(A1111Api, OverrideSettingsApplyToTheRequestOnly) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  json body = kSmall;
  body["override_settings"] = {
      {"samples_format", "jpg"}, {"CLIP_stop_at_last_layers", 2}, {"sd_vae", "Automatic"}};
  const auto reply = server.post("/sdapi/v1/txt2img", body);
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto bytes = io::base64_decode(reply.json["images"][0].get<std::string>(), "image");
  EXPECT_EQ(io::sniff_image_format(bytes), "jpeg");
  EXPECT_EQ(json::parse(reply.json["info"].get<std::string>())["clip_skip"], 2);
  // Not kept: the options still say png.
  EXPECT_EQ(server.get("/sdapi/v1/options").json["samples_format"], "png");

  body["override_settings"] = {{"sd_vae", "vae-ft-mse.safetensors"}};
  auto refused = server.post("/sdapi/v1/txt2img", body);
  EXPECT_EQ(refused.status, 422) << refused.body;
  body["override_settings"] = {{"sd_model_checkpoint", "no-such-model"}};
  refused = server.post("/sdapi/v1/txt2img", body);
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_NE(refused.body.find("no-such-model"), std::string::npos);
}

TEST(A1111Api, LoraTagsApplyTheLoraAndLeaveThePrompt) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  json body = kSmall;
  body["seed"] = 7;
  const auto plain = server.post("/sdapi/v1/txt2img", body);
  body["prompt"] = "a red cube <lora:sd15-tiny-lora:1.5>";
  const auto tagged = server.post("/sdapi/v1/txt2img", body);
  ASSERT_EQ(plain.status, 200) << plain.body;
  ASSERT_EQ(tagged.status, 200) << tagged.body;
  const auto plain_pixels = decode_b64(plain.json["images"][0]).rgb;
  EXPECT_TRUE(plain_pixels != decode_b64(tagged.json["images"][0]).rgb)
      << "the LoRA changed nothing";
  // The job ran the prompt without the tag, with the LoRA.
  const auto jobs = server.service().jobs().list(service::kLocalAccount, 1, 0);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].spec.params.prompt, "a red cube ");
  ASSERT_EQ(jobs[0].spec.loras.size(), 1u);
  EXPECT_EQ(jobs[0].spec.loras[0].name, "sd15-tiny-lora");
  EXPECT_DOUBLE_EQ(jobs[0].spec.loras[0].weight, 1.5);

  // disable_extra_networks: taken out, not applied — the same picture as without the tag.
  body["disable_extra_networks"] = true;
  const auto disabled = server.post("/sdapi/v1/txt2img", body);
  ASSERT_EQ(disabled.status, 200) << disabled.body;
  EXPECT_TRUE(decode_b64(disabled.json["images"][0]).rgb == plain_pixels);

  body.erase("disable_extra_networks");
  body["prompt"] = "x <lora:unknown-lora:1>";
  EXPECT_EQ(server.post("/sdapi/v1/txt2img", body).status, 400);
  body["prompt"] = "x <lora:sd15-tiny-lora:lots>";
  const auto bad_weight = server.post("/sdapi/v1/txt2img", body);
  EXPECT_EQ(bad_weight.status, 400);
  EXPECT_EQ(bad_weight.json["error"]["param"], "prompt");
}

TEST(A1111Api, SamplersAndSchedulers) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  json body = kSmall;
  body["sampler_name"] = "DPM++ 2M";
  body["scheduler"] = "Karras";
  auto reply = server.post("/sdapi/v1/txt2img", body);
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(json::parse(reply.json["info"].get<std::string>())["sampler_name"], "DPM++ 2M Karras");

  body["sampler_name"] = "Euler";
  reply = server.post("/sdapi/v1/txt2img", body);
  EXPECT_EQ(reply.status, 400) << reply.body;
  EXPECT_EQ(reply.json["error"]["param"], "scheduler");

  body["scheduler"] = "exponential";
  reply = server.post("/sdapi/v1/txt2img", body);
  EXPECT_EQ(reply.status, 400);
  EXPECT_NE(reply.body.find("automatic, karras"), std::string::npos) << reply.body;

  body.erase("scheduler");
  body["sampler_name"] = "DPM++ SDE";
  reply = server.post("/sdapi/v1/txt2img", body);
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.json["error"]["param"], "sampler_name");
  EXPECT_NE(reply.body.find("Euler a"), std::string::npos) << "lists the choices: " << reply.body;
}

TEST(A1111Api, RefusesWhatItDoesNotDo) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  const std::vector<std::pair<std::string, json>> unsupported = {
      {"enable_hr", true},
      {"restore_faces", true},
      {"tiling", true},
      {"styles", json::array({"cinematic"})},
      {"subseed_strength", 0.5},
      {"script_name", "x/y/z plot"},
      {"alwayson_scripts", {{"ControlNet", {{"args", json::array()}}}}}};
  for (const auto& [name, value] : unsupported) {
    json body = kSmall;
    body[name] = value;
    const auto reply = server.post("/sdapi/v1/txt2img", body);
    EXPECT_EQ(reply.status, 422) << name << ": " << reply.body;
    EXPECT_EQ(reply.json["error"]["param"], name);
  }
  const std::vector<std::pair<std::string, json>> bad = {{"steps", 0},      {"steps", "many"},
                                                         {"width", 100},    {"cfg_scale", -1},
                                                         {"batch_size", 5}, {"seed", "x"}};
  for (const auto& [name, value] : bad) {
    json body = kSmall;
    body[name] = value;
    const auto reply = server.post("/sdapi/v1/txt2img", body);
    EXPECT_EQ(reply.status, 400) << name << ": " << reply.body;
  }
  json body = kSmall;
  body["batch_size"] = 2;
  body["n_iter"] = 3;
  EXPECT_EQ(server.post("/sdapi/v1/txt2img", body).status, 400);
  // What webuiapi and A1111 clients send by default is accepted.
  body = kSmall;
  const json defaults = {{"enable_hr", false},
                         {"styles", json::array()},
                         {"subseed", -1},
                         {"subseed_strength", 0},
                         {"restore_faces", false},
                         {"tiling", false},
                         {"eta", 1.0},
                         {"s_churn", 0},
                         {"s_tmax", 0},
                         {"s_tmin", 0},
                         {"s_noise", 1},
                         {"script_name", nullptr},
                         {"script_args", json::array()},
                         {"alwayson_scripts", json::object()},
                         {"sampler_index", "Euler a"},
                         {"scheduler", "automatic"}};
  for (const auto& [name, value] : defaults.items()) body[name] = value;
  const auto reply = server.post("/sdapi/v1/txt2img", body);
  EXPECT_EQ(reply.status, 200) << reply.body;
}

TEST(A1111Api, Img2ImgWithMask) {
  DD_REQUIRE_FIXTURES();
  TestServer server;
  json body = {{"prompt", "a cat"},
               {"steps", 2},
               {"init_images", json::array({png_base64(96, 80, 200)})},
               {"denoising_strength", 0.6},
               {"seed", 3}};
  // Without width/height the picture keeps its own size.
  auto reply = server.post("/sdapi/v1/img2img", body);
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto image = decode_b64(reply.json["images"][0]);
  EXPECT_EQ(image.width, 96);
  EXPECT_EQ(image.height, 80);
  auto info = json::parse(reply.json["info"].get<std::string>());
  EXPECT_DOUBLE_EQ(info["denoising_strength"].get<double>(), 0.6);
  EXPECT_TRUE(reply.json["parameters"]["init_images"].is_null());

  // A mask, resized with the picture to width x height; both fills A1111 has here.
  body["mask"] = "data:image/png;base64," + png_base64(32, 32, 255);
  body["width"] = 64;
  body["height"] = 64;
  for (const int fill : {0, 1}) {
    body["inpainting_fill"] = fill;
    reply = server.post("/sdapi/v1/img2img", body);
    ASSERT_EQ(reply.status, 200) << reply.body;
    image = decode_b64(reply.json["images"][0]);
    EXPECT_EQ(image.width, 64);
  }
  body["inpainting_fill"] = 2;
  EXPECT_EQ(server.post("/sdapi/v1/img2img", body).status, 422);
  body["inpainting_fill"] = 1;
  body["resize_mode"] = 1;
  EXPECT_EQ(server.post("/sdapi/v1/img2img", body).status, 422);
  body.erase("resize_mode");
  body["init_images"] = json::array();
  EXPECT_EQ(server.post("/sdapi/v1/img2img", body).status, 400);
  body["init_images"] = json::array({"not base64!"});
  EXPECT_EQ(server.post("/sdapi/v1/img2img", body).status, 400);
  body["init_images"] = "not an array";
  EXPECT_EQ(server.post("/sdapi/v1/img2img", body).status, 400);
}

}  // namespace
}  // namespace dd::http
