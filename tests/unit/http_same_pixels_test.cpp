// One parameter model from every front end to the engine: the CLI and each HTTP dialect make the
// same pixels from the same model, prompt, seed and size, with nothing else given (then the
// model's and the engine's defaults apply, CFG 7 included) and with steps, guidance, sampler
// and clip skip given too. The only difference a dialect may make is a default its seed
// document fixes: /sd's 30 steps, which a model's own default would override.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "http_test_server.h"
#include "io/base64.h"
#include "io/image.h"
#include "io/image_codec.h"
#include "service/crypto.h"
#include "test_support.h"

namespace dd::http {
namespace {

namespace fs = std::filesystem;
using test::TestServer;

constexpr int64_t kSeed = 1234;
constexpr const char* kPrompt = "a red fox in the snow";

// A models directory with one model and no sidecar: nothing but the engine's defaults.
std::string plain_models_dir() {
  static const std::string dir = [] {
    const fs::path root = fs::temp_directory_path() / ("dd_plain_" + service::random_hex(6));
    fs::create_directories(root);
    fs::create_directory_symlink(fs::path(test::fixtures_dir()) / "models" / "sd15-tiny",
                                 root / "sd15-tiny");
    return root.string();
  }();
  return dir;
}

struct Picture {
  std::vector<uint8_t> rgb;
  std::string parameters;  // the PNG's A1111 parameters text
};

Picture picture(const std::string& bytes) {
  const fs::path file = fs::temp_directory_path() / ("dd_px_" + service::random_hex(6) + ".png");
  std::ofstream(file, std::ios::binary) << bytes;
  const auto text = io::read_png_text(file.string());
  fs::remove(file);
  const auto image = io::decode_image({bytes.begin(), bytes.end()}, "reply");
  return {image.rgb, text.count("parameters") ? text.at("parameters") : ""};
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A models directory with the tiny FLUX.1-dev model and no sidecar.
std::string flux_models_dir() {
  static const std::string dir = [] {
    const fs::path root = fs::temp_directory_path() / ("dd_flux_" + service::random_hex(6));
    fs::create_directories(root);
    fs::create_directory_symlink(fs::path(test::flux_fixtures_dir()) / "models" / "flux-dev-tiny",
                                 root / "flux-dev-tiny");
    return root.string();
  }();
  return dir;
}

// `diffusiond generate` with these extra arguments.
Picture cli(const std::string& models_dir, const std::string& extra,
            const std::string& model = "sd15-tiny") {
  const fs::path out = fs::temp_directory_path() / ("dd_cli_" + service::random_hex(6) + ".png");
  const std::string command = std::string(DD_BINARY) + " generate -q --models-dir " + models_dir +
                              " --model " + model + " --prompt '" + kPrompt + "' --seed " +
                              std::to_string(kSeed) + " --width 64 --height 64 " + extra + " -o " +
                              out.string() + " > /dev/null";
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  const auto result = picture(read_file(out));
  fs::remove(out);
  return result;
}

// Each dialect's request for the same image; `extra` holds each one's spelling of the optional
// fields, keyed by dialect.
std::map<std::string, Picture> every_dialect(const TestServer& server,
                                             const std::map<std::string, nlohmann::json>& extra,
                                             const std::string& model = "sd15-tiny") {
  auto body = [&](const std::string& dialect, nlohmann::json json) {
    if (extra.count(dialect)) json.update(extra.at(dialect));
    return json;
  };
  std::map<std::string, Picture> out;
  const auto job = server.post(
      "/v0/api/images",
      body(
          "jobs",
          {{"prompt", kPrompt}, {"model", model}, {"seed", kSeed}, {"width", 64}, {"height", 64}}));
  EXPECT_EQ(job.status, 200) << job.body;
  const auto done = server.wait_for_job(job.json.value("jobId", ""));
  EXPECT_EQ(done.value("status", ""), "SUCCESS") << done.dump();
  if (!done.contains("outputFiles") || done["outputFiles"].empty()) return out;
  out["jobs"] =
      picture(server.get("/files/" + done["outputFiles"][0]["path"].get<std::string>()).body);

  const auto sd = server.post(
      "/sd",
      body(
          "sd",
          {{"prompt", kPrompt}, {"model", model}, {"seed", kSeed}, {"width", 64}, {"height", 64}}));
  EXPECT_EQ(sd.status, 200) << sd.body;
  out["sd"] = picture(sd.body);

  const auto generation = server.post(
      "/api/v1/images/generation",
      body(
          "generation",
          {{"prompt", kPrompt}, {"model", model}, {"seed", kSeed}, {"width", 64}, {"height", 64}}));
  EXPECT_EQ(generation.status, 200) << generation.body;
  const auto b64 =
      io::base64_decode(generation.json["data"][0]["b64_json"].get<std::string>(), "x");
  out["generation"] = picture({b64.begin(), b64.end()});

  const auto imagine = server.post("/v1/images/imagine", body("images", {{"name", "fox"},
                                                                         {"prompt", kPrompt},
                                                                         {"model", model},
                                                                         {"seed", kSeed},
                                                                         {"width", 64},
                                                                         {"height", 64}}));
  EXPECT_EQ(imagine.status, 200) << imagine.body;
  out["images"] =
      picture(server.get("/v1/images/" + imagine.json.value("id", "") + "/content").body);

  const auto openai =
      server.post("/v1/images/generations", body("openai", {{"prompt", kPrompt},
                                                            {"model", model},
                                                            {"seed", kSeed},
                                                            {"size", "64x64"},
                                                            {"response_format", "b64_json"}}));
  EXPECT_EQ(openai.status, 200) << openai.body;
  const auto b64_openai =
      io::base64_decode(openai.json["data"][0]["b64_json"].get<std::string>(), "x");
  out["openai"] = picture({b64_openai.begin(), b64_openai.end()});
  return out;
}

TEST(SamePixels, EveryDialectAndTheCliWithNothingElseGiven) {
  DD_REQUIRE_FIXTURES();
  TestServer server({.models_dir = plain_models_dir()});
  const Picture expected = cli(plain_models_dir(), "");
  // The engine's defaults, the same for every front end: 20 steps, Euler a, CFG scale 7.
  EXPECT_NE(expected.parameters.find("Steps: 20, Sampler: Euler a, CFG scale: 7, "),
            std::string::npos)
      << expected.parameters;
  // /sd's seed document fixes 30 steps for it (a model's own default would win).
  const Picture expected_sd = cli(plain_models_dir(), "--steps 30");
  const auto pictures = every_dialect(server, {});
  ASSERT_EQ(pictures.size(), 5u);
  for (const auto& [dialect, got] : pictures) {
    const Picture& want = dialect == "sd" ? expected_sd : expected;
    EXPECT_TRUE(got.rgb == want.rgb) << dialect << " made other pixels than the CLI";
  }
  EXPECT_NE(pictures.at("jobs").parameters.find("CFG scale: 7, "), std::string::npos)
      << pictures.at("jobs").parameters;
  EXPECT_NE(pictures.at("sd").parameters.find("Steps: 30, "), std::string::npos)
      << pictures.at("sd").parameters;
  EXPECT_FALSE(expected_sd.rgb == expected.rgb);
}

TEST(SamePixels, EveryDialectAndTheCliWithStepsGuidanceSamplerAndClipSkip) {
  DD_REQUIRE_FIXTURES();
  TestServer server({.models_dir = plain_models_dir()});
  const Picture expected =
      cli(plain_models_dir(), "--steps 3 --cfg 5 --sampler 'DPM++ 2M' --clip-skip 2");
  EXPECT_NE(expected.parameters.find("Steps: 3, Sampler: DPM++ 2M, CFG scale: 5, "),
            std::string::npos)
      << expected.parameters;
  EXPECT_NE(expected.parameters.find("Clip skip: 2"), std::string::npos) << expected.parameters;
  const nlohmann::json snake = {
      {"steps", 3}, {"guidance_scale", 5}, {"sampler", "DPM++ 2M"}, {"clip_skip", 2}};
  const auto pictures = every_dialect(
      server,
      {{"jobs", {{"steps", 3}, {"guidanceScale", 5}, {"sampler", "DPM++ 2M"}, {"clipSkip", 2}}},
       {"sd", {{"steps", 3}, {"cfg_scale", 5}, {"sampler", "DPM++ 2M"}, {"clip_skip", 2}}},
       {"generation",
        {{"num_steps", 3}, {"guidance_scale", 5}, {"sampler", "DPM++ 2M"}, {"clip_skip", 2}}},
       {"images", snake},
       {"openai", snake}});
  ASSERT_EQ(pictures.size(), 5u);
  for (const auto& [dialect, got] : pictures) {
    EXPECT_TRUE(got.rgb == expected.rgb) << dialect << " made other pixels than the CLI";
    EXPECT_NE(got.parameters.find("Clip skip: 2"), std::string::npos)
        << dialect << ": " << got.parameters;
  }
  // Clip skip changes the picture (so the dialects above really passed it on).
  EXPECT_FALSE(cli(plain_models_dir(), "--steps 3 --cfg 5 --sampler 'DPM++ 2M'").rgb ==
               expected.rgb);
}

// FLUX.1-dev: its family's defaults (28 steps, guidance 3.5) beat /sd's 30 steps, so every
// dialect makes the CLI's image; each dialect's guidance scale is the distilled guidance.
TEST(SamePixels, AFluxModelInEveryDialectAndTheCli) {
  DD_REQUIRE_FLUX_FIXTURES();
  TestServer server({.models_dir = flux_models_dir(), .default_model = "flux-dev-tiny"});
  const std::string model = "flux-dev-tiny";
  const Picture plain = cli(flux_models_dir(), "", model);
  EXPECT_NE(plain.parameters.find("Steps: 28, Sampler: Euler, CFG scale: 1, Guidance: 3.5, "),
            std::string::npos)
      << plain.parameters;
  auto pictures = every_dialect(server, {}, model);
  ASSERT_EQ(pictures.size(), 5u);
  for (const auto& [dialect, got] : pictures)
    EXPECT_TRUE(got.rgb == plain.rgb) << dialect << " made other pixels than the CLI";

  const Picture guided = cli(flux_models_dir(), "--steps 3 --guidance 5", model);
  EXPECT_NE(guided.parameters.find("Guidance: 5, "), std::string::npos) << guided.parameters;
  const nlohmann::json snake = {{"steps", 3}, {"guidance_scale", 5}};
  pictures = every_dialect(server,
                           {{"jobs", {{"steps", 3}, {"guidanceScale", 5}}},
                            {"sd", {{"steps", 3}, {"cfg_scale", 5}}},
                            {"generation", {{"num_steps", 3}, {"guidance_scale", 5}}},
                            {"images", snake},
                            {"openai", {{"steps", 3}, {"guidance", 5}}}},
                           model);
  ASSERT_EQ(pictures.size(), 5u);
  for (const auto& [dialect, got] : pictures) {
    EXPECT_TRUE(got.rgb == guided.rgb) << dialect << " made other pixels than the CLI";
    EXPECT_NE(got.parameters.find("Guidance: 5, "), std::string::npos)
        << dialect << ": " << got.parameters;
  }
  EXPECT_FALSE(cli(flux_models_dir(), "--steps 3", model).rgb == guided.rgb);
}

}  // namespace
}  // namespace dd::http
