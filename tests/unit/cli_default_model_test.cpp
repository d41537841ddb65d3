// The built-in default model end to end, without ../shared: `diffusiond generate` with no
// --model, and `diffusiond serve` with no --models-dir or --default-model answering a /sd
// request. Both need models/diffusiond-scenes (written by `diffusiond train`); set
// DIFFUSIOND_MODELS_DIR to try them on another folder holding a model of that name.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "cli/main.h"
#include "cli/model_choice.h"
#include "io/image.h"
#include "models/tiny_decoder.h"
#include "pipeline/model.h"
#include "pipeline/preview_decoder.h"
#include "scenes/palette.h"
#include "serve_process.h"
#include "service/crypto.h"
#include "service/model_registry.h"
#include "test_support.h"

namespace dd::cli {
namespace {

namespace fs = std::filesystem;

// The README's request.
constexpr const char* kPrompt = "a large red circle in the centre on a blue background";

// The palette colour nearest to pixel (x, y).
scenes::Colour colour_at(const io::Image& image, int x, int y) {
  const uint8_t* p = &image.rgb[3 * (static_cast<size_t>(y) * image.width + x)];
  return scenes::nearest_colour(p[0], p[1], p[2]);
}

#define DD_REQUIRE_BUILTIN_MODEL()                                                              \
  do {                                                                                          \
    if (!has_builtin_model(builtin_models_dir()))                                               \
      GTEST_SKIP() << "no built-in model " << kBuiltinModelId << " in " << builtin_models_dir() \
                   << " (train it with `diffusiond train`)";                                    \
  } while (0)

// One compute thread: a test process cannot make OpenMP wait passively as the binary does, and
// two threads spinning on a busy machine slow a run down many times.
int run_cli(std::vector<std::string> args) {
  args.insert(args.begin(), {"diffusiond", "--threads", "1"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return run(static_cast<int>(argv.size()), argv.data());
}

fs::path fresh_dir(const std::string& prefix) {
  const auto dir = fs::temp_directory_path() / (prefix + service::random_hex(6));
  fs::create_directories(dir);
  return dir;
}

TEST(DefaultModel, TheModelsFolderScansCleanly) {
  DD_REQUIRE_BUILTIN_MODEL();
  service::ModelRegistry registry(builtin_models_dir(), 0, torch::kFloat32);
  for (const auto& model : registry.list())
    EXPECT_TRUE(model.available()) << model.id << ": " << model.error;
  const auto model = registry.find(kBuiltinModelId);
  ASSERT_TRUE(model.has_value());
  EXPECT_EQ(model->defaults.width, 64);
  EXPECT_EQ(model->defaults.height, 64);
}

TEST(DefaultModel, GenerateWithoutAModelWritesA64x64Png) {
  DD_REQUIRE_BUILTIN_MODEL();
  const auto png = (fresh_dir("dd_default_cli_") / "circle.png").string();
  ASSERT_EQ(run_cli({"generate", "--prompt", kPrompt, "--seed", "1", "-q", "-o", png}), 0);
  const auto image = io::read_png(png);
  EXPECT_EQ(image.width, 64);
  EXPECT_EQ(image.height, 64);
  const auto text = io::read_png_text(png).at("parameters");
  EXPECT_NE(text.find(std::string("Model: ") + kBuiltinModelId), std::string::npos) << text;
  fs::remove_all(fs::path(png).parent_path());
}

TEST(DefaultModel, ServeAnswersASyncRequestWithAPng) {
  DD_REQUIRE_BUILTIN_MODEL();
  const auto data_dir = fresh_dir("dd_default_serve_");
  {
    // `diffusiond serve` as a user starts it: only a port and a data dir of its own.
    test::ServeProcess server(DD_BINARY, test::free_port(), {"--data-dir", data_dir.string()}, 600);
    ASSERT_TRUE(server.wait_healthy(60)) << "diffusiond serve did not become healthy";
    auto client = server.client();
    const nlohmann::json body = {{"prompt", kPrompt}, {"seed", 1}};
    const auto reply = client.Post("/sd", body.dump(), "application/json");
    ASSERT_TRUE(reply) << "no answer from /sd";
    ASSERT_EQ(reply->status, 200) << reply->body;
    EXPECT_EQ(reply->get_header_value("Content-Type"), "image/png");
    const std::vector<uint8_t> bytes(reply->body.begin(), reply->body.end());
    const auto image = io::decode_png(bytes, "the /sd answer");
    ASSERT_EQ(image.width, 64);
    ASSERT_EQ(image.height, 64);
    // What the README promises: a red circle in the centre, a blue background around it.
    EXPECT_EQ(colour_at(image, 32, 32), scenes::Colour::kRed);
    for (const auto& [x, y] : {std::pair{2, 2}, {61, 2}, {2, 61}, {61, 61}})
      EXPECT_EQ(colour_at(image, x, y), scenes::Colour::kBlue) << x << "," << y;
  }
  fs::remove_all(data_dir);
}

// --preview with a tiny decoder (random weights here: the file format and the plumbing are under
// test, not the picture) writes a preview PNG of the image's size as the generation runs.
TEST(DefaultModel, GenerateWritesPreviewsThroughATinyDecoder) {
  DD_REQUIRE_BUILTIN_MODEL();
  const auto dir = fresh_dir("dd_default_preview_");
  models::TinyDecoderConfig config;  // the built-in VAE upsamples by 4: two stages
  config.channels = 8;
  config.upsamples = 2;
  models::TinyDecoder decoder(config);
  save_tiny_decoder(decoder, (dir / "taesd.safetensors").string());
  const auto preview = (dir / "preview.png").string();
  ASSERT_EQ(run_cli({"generate", "--prompt", kPrompt, "--seed", "1", "--steps", "4", "-q",
                     "--preview", preview, "--preview-every", "2", "--preview-decoder",
                     (dir / "taesd.safetensors").string(), "-o", (dir / "out.png").string()}),
            0);
  const auto image = io::read_png(preview);
  EXPECT_EQ(image.width, 64);
  EXPECT_EQ(image.height, 64);
  EXPECT_TRUE(fs::exists(dir / "out.png"));
  // A decoder file that is not one, or a decoder with no --preview: an error before any work.
  EXPECT_EQ(run_cli({"generate", "--prompt", kPrompt, "--preview-decoder",
                     (dir / "taesd.safetensors").string(), "-o", (dir / "x.png").string()}),
            1);
  EXPECT_EQ(run_cli({"generate", "--prompt", kPrompt, "--preview", preview, "--preview-decoder",
                     (dir / "out.png").string(), "-o", (dir / "x.png").string()}),
            1);
  EXPECT_FALSE(fs::exists(dir / "x.png"));
  fs::remove_all(dir);
}

// Without a tiny decoder, --preview writes latent-sized previews from a linear projection
// fitted to the model's own VAE.
// (How well a linear map previews depends on the VAE: on the built-in model's small VAE, trained
// on flat-colour scenes, the fitted map leaves about half the error of the picture's mean colour
// on the picture it was fitted to, and does little better than that mean on a generated image;
// the real SD and FLUX VAEs are close to linear in colour, which is why such maps are used.)
TEST(DefaultModel, GenerateWritesLatentSizedPreviewsWithoutADecoder) {
  DD_REQUIRE_BUILTIN_MODEL();
  const auto dir = fresh_dir("dd_default_linear_preview_");
  const auto preview = (dir / "preview.png").string();
  ASSERT_EQ(run_cli({"generate", "--prompt", kPrompt, "--seed", "1", "--steps", "3", "-q",
                     "--preview", preview, "-o", (dir / "out.png").string()}),
            0);
  const auto image = io::read_png(preview);
  const auto out = io::read_png((dir / "out.png").string());
  ASSERT_EQ(image.width, out.width / 4);  // the built-in VAE upsamples by 4
  ASSERT_EQ(image.height, out.height / 4);
  fs::remove_all(dir);
}

// The fitted projection maps the VAE's latents of its fitting picture back to that picture's
// colours better than the picture's mean colour does.
TEST(DefaultModel, TheLinearPreviewFitReproducesItsPicture) {
  DD_REQUIRE_BUILTIN_MODEL();
  pipeline::ModelSource source;
  source.path = builtin_models_dir() + "/" + kBuiltinModelId;
  const auto model = pipeline::DiffusionModel::load(source);
  const auto preview = pipeline::PreviewDecoder::linear(pipeline::fit_linear_preview(*model));
  torch::NoGradGuard no_grad;
  const auto picture = pipeline::linear_preview_fit_picture();
  const auto& vae = model->config().vae;
  const auto latents =
      (model->vae->encode(model->to_compute(picture * 2 - 1)).mean - vae.shift_factor) *
      vae.scaling_factor;
  const auto rgb = preview.decode(latents);
  const auto target = torch::adaptive_avg_pool2d(picture, {rgb.size(1), rgb.size(2)})[0];
  const double fitted = (rgb - target).abs().mean().item<double>();
  const double flat = (target - target.mean({1, 2}, true)).abs().mean().item<double>();
  EXPECT_LT(fitted, 0.75 * flat) << fitted * 255 << " vs " << flat * 255 << " of 255";
}

}  // namespace
}  // namespace dd::cli
