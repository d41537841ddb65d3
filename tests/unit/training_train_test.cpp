// diffusiond train: settings, batches, checkpoints, resuming and the exported model, on runs of a
// few steps (the real run's quality is measured by `diffusiond evaluate`).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include "io/safetensors.h"
#include "io/tensor_file.h"
#include "pipeline/generate.h"
#include "pipeline/model.h"
#include "training/module_tensors.h"
#include "training/scene_batch.h"
#include "training/train_run.h"
#include "training/training_settings.h"
#include "util/error.h"

namespace dd::training {
namespace {

namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("dd_train_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

// A run small enough for a unit test: two pictures per step, a few steps per phase.
TrainingSettings tiny_settings(int vae_steps = 2, int steps = 2, int decoder_steps = 2,
                               int refine_steps = 2, int detail_steps = 2) {
  TrainingSettings s;
  s.detail_steps = detail_steps;
  s.vae_steps = vae_steps;
  s.decoder_steps = decoder_steps;
  s.refine_steps = refine_steps;
  s.vae_batch = 2;
  s.steps = steps;
  s.batch = 2;
  s.warmup_steps = 1;
  return s;
}

// max |a - b| over every tensor two safetensors files share by name (both must have the same).
double max_difference(const fs::path& a, const fs::path& b) {
  io::SafetensorsFile fa(a.string()), fb(b.string());
  EXPECT_EQ(fa.entries().size(), fb.entries().size());
  double worst = 0;
  for (const auto& entry : fa.entries()) {
    const auto x = io::load_tensor(fa, entry.name, torch::kFloat32);
    const auto y = io::load_tensor(fb, entry.name, torch::kFloat32);
    worst = std::max(worst, (x - y).abs().max().item<double>());
  }
  return worst;
}

TEST(TrainingSettings, JsonRoundTripAndValidation) {
  TrainingSettings s = tiny_settings();
  s.seed = 42;
  s.lr = 3e-4;
  const TrainingSettings back = settings_from_json(to_json(s));
  EXPECT_EQ(to_json(back), to_json(s));
  EXPECT_THROW(settings_from_json(nlohmann::json{{"seed", 1}}), Error);
  // Runs from before the loss weightings trained without them, and must resume that way.
  nlohmann::json older = to_json(s);
  older.erase("vae_object_weight");
  older.erase("min_snr_gamma");
  older.erase("refine_steps");
  older.erase("detail_steps");
  EXPECT_EQ(settings_from_json(older).refine_steps, 0);  // no phase 4 before it existed
  EXPECT_EQ(settings_from_json(older).detail_steps, 0);  // nor phase 5
  EXPECT_EQ(settings_from_json(older).vae_object_weight, 0.0);
  EXPECT_EQ(settings_from_json(older).min_snr_gamma, 0.0);
  EXPECT_FALSE(settings_from_json(older).same_run_as(s));

  TrainingSettings longer = s;
  longer.steps = 100;
  longer.vae_steps = 50;
  longer.refine_steps = 7;
  longer.detail_steps = 9;
  EXPECT_TRUE(s.same_run_as(longer));  // only step counts may change on resume
  TrainingSettings other = s;
  other.batch = 3;
  EXPECT_FALSE(s.same_run_as(other));

  for (auto broken :
       {+[](TrainingSettings& t) { t.steps = 0; }, +[](TrainingSettings& t) { t.batch = 0; },
        +[](TrainingSettings& t) { t.lr = 0; }, +[](TrainingSettings& t) { t.ema_decay = 1; },
        +[](TrainingSettings& t) { t.caption_dropout = -0.1; },
        +[](TrainingSettings& t) { t.vae_object_weight = -1; },
        +[](TrainingSettings& t) { t.min_snr_gamma = -1; },
        +[](TrainingSettings& t) { t.refine_steps = -1; },
        +[](TrainingSettings& t) { t.detail_steps = -1; },
        +[](TrainingSettings& t) { t.refine_offset_noise = -0.1; }}) {
    TrainingSettings t = s;
    broken(t);
    EXPECT_THROW(validate(t), Error);
  }
  EXPECT_NO_THROW(validate(s));
}

TEST(TrainingSettings, LearningRateWarmsUpThenDecaysToATenth) {
  EXPECT_DOUBLE_EQ(learning_rate(1.0, 0, 10, 100), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate(1.0, 9, 10, 100), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate(1.0, 10, 10, 100), 1.0);
  EXPECT_NEAR(learning_rate(1.0, 55, 10, 100), 0.55, 1e-12);  // halfway down the cosine
  EXPECT_NEAR(learning_rate(1.0, 100, 10, 100), 0.1, 1e-12);
}

TEST(SceneBatch, IsReproducibleAndInRange) {
  SceneBatchOptions options;
  options.batch = 4;
  const SceneBatch a = scene_batch(7, 3, options), b = scene_batch(7, 3, options);
  const SceneBatch c = scene_batch(7, 4, options);
  ASSERT_EQ(a.images.sizes(), (std::vector<int64_t>{4, 3, 64, 64}));
  EXPECT_TRUE(torch::equal(a.images, b.images));
  EXPECT_EQ(a.captions, b.captions);
  EXPECT_FALSE(torch::equal(a.images, c.images));
  EXPECT_GE(a.images.min().item<float>(), -1.0f);
  EXPECT_LE(a.images.max().item<float>(), 1.0f);
  for (const auto& caption : a.captions) EXPECT_FALSE(caption.empty());

  options.batch = 64;
  options.caption_dropout = 0.5;
  int dropped = 0;
  for (const auto& caption : scene_batch(7, 3, options).captions) dropped += caption.empty();
  EXPECT_GT(dropped, 10);
  EXPECT_LT(dropped, 54);
  options.batch = 0;
  EXPECT_THROW(scene_batch(7, 3, options), Error);
}

TEST(ModuleTensors, SaveAndLoadRoundTrip) {
  const fs::path dir = fresh_dir("module");
  fs::create_directories(dir);
  torch::nn::Linear a(3, 2), b(3, 2);
  save_module(*a, (dir / "linear.safetensors").string());
  load_module(*b, (dir / "linear.safetensors").string());
  EXPECT_TRUE(torch::equal(a->weight, b->weight));
  EXPECT_TRUE(torch::equal(a->bias, b->bias));
  torch::nn::Linear wrong(4, 2);
  EXPECT_THROW(load_module(*wrong, (dir / "linear.safetensors").string()), Error);
  fs::remove_all(dir);
}

TEST(TrainRun, ExportsAModelTheEngineLoadsAndRuns) {
  const fs::path dir = fresh_dir("export");
  TrainRun run((dir / "work").string(), tiny_settings());
  std::ostringstream log;
  ASSERT_TRUE(run.run({}, log));
  EXPECT_NE(log.str().find("diffusion step 2/2"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("decoder step 2/2"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("refine step 2/2"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("detail step 2/2"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("vae: round trip of held-out scenes: colour "), std::string::npos);
  EXPECT_GT(run.progress().scaling_factor, 0);
  // In full: the progress lines' formatting once cut it to one digit ("0.4").
  std::ostringstream scaling_line;
  scaling_line << "vae: latent scaling factor " << run.progress().scaling_factor << "\n";
  EXPECT_NE(log.str().find(scaling_line.str()), std::string::npos) << log.str();
  run.export_model((dir / "model").string(), torch::kFloat32);

  for (const char* file : {"model_index.json", "training.json", "unet/config.json",
                           "vae/config.json", "text_encoder/config.json", "tokenizer/vocab.json",
                           "tokenizer/merges.txt", "scheduler/scheduler_config.json"})
    EXPECT_TRUE(fs::exists(dir / "model" / file)) << file;
  // The exported UNet is the weight average, not the last step's weights.
  EXPECT_EQ(max_difference(dir / "model/unet/diffusion_pytorch_model.safetensors",
                           dir / "work/unet_ema.safetensors"),
            0);

  pipeline::ModelSource source;
  source.path = (dir / "model").string();
  auto model = pipeline::DiffusionModel::load(source);
  EXPECT_EQ(model->config().default_width, 64);
  EXPECT_EQ(model->vae->downscale_factor(), 4);
  EXPECT_NEAR(model->config().vae.scaling_factor, run.progress().scaling_factor, 1e-6);
  pipeline::GenerationRequest request;
  request.prompt = "a red circle on a blue background";
  request.steps = 2;
  const auto result = pipeline::generate(*model, request);
  EXPECT_EQ(result.images.sizes(), (std::vector<int64_t>{1, 64, 64, 3}));
  EXPECT_EQ(result.latents.sizes(), (std::vector<int64_t>{1, 4, 16, 16}));
  fs::remove_all(dir);
}

TEST(TrainRun, ResumedRunEqualsAnUninterruptedOne) {
  const fs::path dir = fresh_dir("resume");
  const TrainingSettings settings = tiny_settings(3, 3, 3, 3, 3);
  std::ostringstream log;
  TrainRun straight((dir / "straight").string(), settings);
  ASSERT_TRUE(straight.run({}, log));

  RunLimits five_steps;
  five_steps.max_steps = 5;
  for (int call = 0; call < 2; ++call) {  // stops inside the diffusion phase, then the refining
    TrainRun part((dir / "resumed").string(), settings);
    ASSERT_FALSE(part.run(five_steps, log));
  }
  TrainRun rest((dir / "resumed").string(), settings);
  EXPECT_EQ(rest.progress().vae_step, 3);
  EXPECT_EQ(rest.progress().step, 3);
  EXPECT_EQ(rest.progress().decoder_step, 3);
  EXPECT_EQ(rest.progress().refine_step, 1);
  EXPECT_EQ(rest.progress().detail_step, 0);
  ASSERT_TRUE(rest.run({}, log));
  EXPECT_EQ(rest.progress().detail_step, 3);
  EXPECT_EQ(rest.progress().sessions.size(), 3u);  // every call is in the run's history
  for (const char* file : {"vae.safetensors", "unet.safetensors", "unet_ema.safetensors",
                           "text_encoder_ema.safetensors"})
    EXPECT_LT(max_difference(dir / "straight" / file, dir / "resumed" / file), 1e-6) << file;
  fs::remove_all(dir);
}

TEST(TrainRun, DecoderPhaseChangesOnlyTheDecoder) {
  const fs::path dir = fresh_dir("decoder");
  std::ostringstream log;
  TrainRun before((dir / "before").string(), tiny_settings(2, 1, 0));
  ASSERT_TRUE(before.run({}, log));
  TrainRun after((dir / "after").string(), tiny_settings(2, 1, 2));
  ASSERT_TRUE(after.run({}, log));
  io::SafetensorsFile a((dir / "before/vae.safetensors").string());
  io::SafetensorsFile b((dir / "after/vae.safetensors").string());
  int decoder_changed = 0;
  for (const auto& entry : a.entries()) {
    const bool same = torch::equal(io::load_tensor(a, entry.name), io::load_tensor(b, entry.name));
    const bool decoder_side =
        entry.name.rfind("decoder.", 0) == 0 || entry.name.rfind("post_quant_conv.", 0) == 0;
    if (!decoder_side) {
      EXPECT_TRUE(same) << entry.name;
    }
    decoder_changed += decoder_side && !same;
  }
  EXPECT_GT(decoder_changed, 10);
  fs::remove_all(dir);
}

// Phases 4 (refine) and 5 (detail) train the UNet and text encoder, never the VAE.
TEST(TrainRun, RefineAndDetailPhasesChangeTheUNetButNotTheVae) {
  const fs::path dir = fresh_dir("refine");
  std::ostringstream log;
  TrainRun before((dir / "before").string(), tiny_settings(2, 1, 1, 0, 0));
  ASSERT_TRUE(before.run({}, log));
  for (const auto& [name, refine_steps, detail_steps] :
       {std::tuple{"refine", 2, 0}, std::tuple{"detail", 0, 2}}) {
    SCOPED_TRACE(name);
    const fs::path after = dir / name;
    TrainRun run(after.string(), tiny_settings(2, 1, 1, refine_steps, detail_steps));
    ASSERT_TRUE(run.run({}, log));
    EXPECT_EQ(max_difference(dir / "before/vae.safetensors", after / "vae.safetensors"), 0);
    EXPECT_GT(max_difference(dir / "before/unet_ema.safetensors", after / "unet_ema.safetensors"),
              0);
    EXPECT_GT(
        max_difference(dir / "before/text_encoder.safetensors", after / "text_encoder.safetensors"),
        0);
  }
  fs::remove_all(dir);
}

TEST(TrainRun, RefusesOtherSettingsUnfinishedExportsAndBrokenCheckpoints) {
  const fs::path dir = fresh_dir("refuse");
  const TrainingSettings settings = tiny_settings();
  std::ostringstream log;
  RunLimits one_step;
  one_step.max_steps = 1;
  {
    TrainRun run((dir / "work").string(), settings);
    ASSERT_FALSE(run.run(one_step, log));
    EXPECT_THROW(run.export_model((dir / "model").string(), torch::kFloat32), Error);
  }
  TrainingSettings other = settings;
  other.seed = 2;
  EXPECT_THROW(TrainRun((dir / "work").string(), other), Error);

  std::ofstream((dir / "work" / "vae.safetensors").string(), std::ios::trunc) << "garbage";
  TrainRun broken((dir / "work").string(), settings);
  EXPECT_THROW(broken.run({}, log), Error);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace dd::training
