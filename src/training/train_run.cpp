#include "training/train_run.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <vector>

#include "training/decoder_trainer.h"
#include "training/diffusion_trainer.h"
#include "training/model_export.h"
#include "training/scene_model_config.h"
#include "training/scene_tokenizer.h"
#include "training/vae_round_trip.h"
#include "training/vae_trainer.h"
#include "util/error.h"

namespace dd::training {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kScalingBatches = 16;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

nlohmann::json read_json_file(const fs::path& path) {
  std::ifstream in(path);
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string() + ": unreadable (" + e.what() + ")");
  }
}

// One phase's step loop: trains from `step` up to `total`, checkpointing every
// `limits.checkpoint_seconds`, at the end, and when a limit stops it. False when stopped early.
struct PhaseLoop {
  const char* name;
  int& step;
  int total;
  double& seconds;
  std::function<double(int)> train_step;
  std::function<void()> checkpoint;
};

bool run_phase(PhaseLoop phase, const RunLimits& limits, Clock::time_point run_start,
               int& steps_run, std::ostream& log) {
  Clock::time_point last_checkpoint = Clock::now(), window_start = Clock::now();
  double loss_sum = 0;
  int window = 0;
  while (phase.step < phase.total) {
    const bool out_of_time =
        limits.max_minutes > 0 && seconds_since(run_start) > limits.max_minutes * 60;
    const bool out_of_steps = limits.max_steps > 0 && steps_run >= limits.max_steps;
    if (out_of_time || out_of_steps || (limits.stop && limits.stop->load())) {
      phase.checkpoint();
      log << phase.name << ": stopped at step " << phase.step << "/" << phase.total
          << "; run again with the same work directory to continue" << std::endl;
      return false;
    }
    const Clock::time_point step_start = Clock::now();
    const double loss = phase.train_step(phase.step);
    if (!std::isfinite(loss))
      throw Error(std::string(phase.name) + ": the loss is not finite at step " +
                  std::to_string(phase.step) + "; lower the learning rate");
    phase.seconds += seconds_since(step_start);
    ++phase.step;
    ++steps_run;
    loss_sum += loss;
    ++window;
    if (window == limits.log_every || phase.step == phase.total) {
      const double per_step = seconds_since(window_start) / window;
      // Formatted apart, so the precision set here does not stick to the caller's stream.
      std::ostringstream line;
      line << phase.name << " step " << phase.step << "/" << phase.total << "  loss "
           << std::setprecision(4) << loss_sum / window << "  " << std::setprecision(3) << per_step
           << " s/step  " << std::fixed << std::setprecision(1)
           << per_step * (phase.total - phase.step) / 60 << " min left";
      log << line.str() << std::endl;
      loss_sum = 0;
      window = 0;
      window_start = Clock::now();
    }
    if (seconds_since(last_checkpoint) > limits.checkpoint_seconds) {
      phase.checkpoint();
      last_checkpoint = Clock::now();
    }
  }
  phase.checkpoint();
  return true;
}

}  // namespace

TrainRun::TrainRun(std::string work_dir, const TrainingSettings& settings)
    : work_dir_(std::move(work_dir)), settings_(settings) {
  validate(settings_);
  fs::create_directories(work_dir_);
  const fs::path state = path("state.json");
  if (fs::exists(state)) {
    const auto json = read_json_file(state);
    const TrainingSettings stored = settings_from_json(json.at("settings"));
    if (!stored.same_run_as(settings_))
      throw Error(work_dir_ + " holds a run with other settings (" + to_json(stored).dump() +
                  "); use another --work-dir or the same settings");
    progress_.vae_step = json.at("vae_step").get<int>();
    progress_.step = json.at("step").get<int>();
    progress_.scaling_factor = json.at("scaling_factor").get<double>();
    progress_.vae_seconds = json.at("vae_seconds").get<double>();
    progress_.diffusion_seconds = json.at("diffusion_seconds").get<double>();
    progress_.decoder_step = json.value("decoder_step", 0);
    progress_.decoder_seconds = json.value("decoder_seconds", 0.0);
    progress_.refine_step = json.value("refine_step", 0);
    progress_.refine_seconds = json.value("refine_seconds", 0.0);
    progress_.detail_step = json.value("detail_step", 0);
    progress_.detail_seconds = json.value("detail_seconds", 0.0);
    progress_.sessions = json.value("sessions", nlohmann::json::array());
    if (progress_.step > 0 && progress_.vae_step < settings_.vae_steps)
      throw Error("--vae-steps cannot grow once the diffusion phase has started (it was " +
                  std::to_string(progress_.vae_step) + ")");
  }
  if (!fs::exists(path("tokenizer/vocab.json"))) build_scene_tokenizer(path("tokenizer"));
}

std::string TrainRun::path(const std::string& name) const {
  return (fs::path(work_dir_) / name).string();
}

bool TrainRun::done() const {
  return progress_.vae_step >= settings_.vae_steps && progress_.step >= settings_.steps &&
         progress_.decoder_step >= settings_.decoder_steps &&
         progress_.refine_step >= settings_.refine_steps &&
         progress_.detail_step >= settings_.detail_steps;
}

void TrainRun::save_state() const {
  nlohmann::json json = {{"settings", to_json(settings_)},
                         {"vae_step", progress_.vae_step},
                         {"step", progress_.step},
                         {"scaling_factor", progress_.scaling_factor},
                         {"vae_seconds", progress_.vae_seconds},
                         {"diffusion_seconds", progress_.diffusion_seconds},
                         {"decoder_step", progress_.decoder_step},
                         {"decoder_seconds", progress_.decoder_seconds},
                         {"refine_step", progress_.refine_step},
                         {"refine_seconds", progress_.refine_seconds},
                         {"detail_step", progress_.detail_step},
                         {"detail_seconds", progress_.detail_seconds},
                         {"sessions", progress_.sessions}};
  const std::string temporary = path("state.json.tmp");
  {
    std::ofstream out(temporary);
    out << json.dump(2) << "\n";
    if (!out) throw Error(temporary + ": cannot write");
  }
  fs::rename(temporary, path("state.json"));
}

bool TrainRun::run(const RunLimits& limits, std::ostream& log, const std::string& command) {
  const Clock::time_point start = Clock::now();
  progress_.sessions.push_back({{"command", command},
                                {"settings", to_json(settings_)},
                                {"from",
                                 {{"vae_step", progress_.vae_step},
                                  {"step", progress_.step},
                                  {"decoder_step", progress_.decoder_step},
                                  {"refine_step", progress_.refine_step},
                                  {"detail_step", progress_.detail_step}}}});
  int steps_run = 0;
  const text::ClipTokenizer tokenizer = text::ClipTokenizer::from_dir(path("tokenizer"));
  models::ModelConfig config = scene_model_config(scene_model_tokens(tokenizer));

  torch::manual_seed(settings_.seed);  // the initial weights
  VaeTrainer vae(config.vae, settings_);
  if (progress_.vae_step > 0) vae.load(work_dir_);
  // Checkpoint files first, then the state that points at them.
  auto save_vae = [&] {
    vae.save(work_dir_);
    save_state();
  };
  if (progress_.vae_step < settings_.vae_steps) {
    PhaseLoop phase{"vae",
                    progress_.vae_step,
                    settings_.vae_steps,
                    progress_.vae_seconds,
                    [&](int i) { return vae.step(i); },
                    save_vae};
    if (!run_phase(phase, limits, start, steps_run, log)) return false;
  }
  if (progress_.scaling_factor <= 0) {
    log << "vae: round trip of held-out scenes: "
        << summary_line(evaluate_scenes(vae_round_trip_generator(vae.vae()), {})) << std::endl;
    progress_.scaling_factor = vae.measure_scaling_factor(kScalingBatches);
    log << "vae: latent scaling factor " << progress_.scaling_factor << std::endl;
    save_state();
  }
  config.vae.scaling_factor = progress_.scaling_factor;

  torch::manual_seed(settings_.seed + 1);
  DiffusionTrainer diffusion(config, settings_, vae.vae(), tokenizer);
  if (progress_.step > 0) diffusion.load(work_dir_);
  auto save_diffusion = [&] {
    diffusion.save(work_dir_);
    save_state();
  };
  DecoderTrainer decoder(vae.vae(), settings_);
  if (progress_.decoder_step > 0) decoder.load(work_dir_);
  auto save_decoder = [&] {
    decoder.save(work_dir_);
    save_state();
  };
  // The decoder phase trains weights disjoint from the others' (the UNet's latents come from the
  // encoder), so its place in the order does not change the result.
  const std::vector<PhaseLoop> phases = {
      {"diffusion", progress_.step, settings_.steps, progress_.diffusion_seconds,
       [&](int i) { return diffusion.step(i); }, save_diffusion},
      {"decoder", progress_.decoder_step, settings_.decoder_steps, progress_.decoder_seconds,
       [&](int i) { return decoder.step(i); }, save_decoder},
      {"refine", progress_.refine_step, settings_.refine_steps, progress_.refine_seconds,
       [&](int i) { return diffusion.refine_step(i); }, save_diffusion},
      {"detail", progress_.detail_step, settings_.detail_steps, progress_.detail_seconds,
       [&](int i) { return diffusion.detail_step(i); }, save_diffusion}};
  for (const PhaseLoop& phase : phases)
    if (phase.step < phase.total && !run_phase(phase, limits, start, steps_run, log)) return false;
  return true;
}

void TrainRun::export_model(const std::string& out_dir, torch::ScalarType dtype) {
  if (!done()) throw Error("training is not finished; run it to the end before exporting");
  const text::ClipTokenizer tokenizer = text::ClipTokenizer::from_dir(path("tokenizer"));
  models::ModelConfig config = scene_model_config(scene_model_tokens(tokenizer));
  config.vae.scaling_factor = progress_.scaling_factor;
  VaeTrainer vae(config.vae, settings_);
  vae.load(work_dir_);
  DiffusionTrainer diffusion(config, settings_, vae.vae(), tokenizer);
  diffusion.load(work_dir_);

  ExportedModel model;
  model.config = &config;
  model.unet = diffusion.ema_unet().get();
  model.vae = vae.vae().get();
  model.text_encoder = diffusion.ema_text_encoder().get();
  model.tokenizer_dir = path("tokenizer");
  model.training_record = {{"sessions", progress_.sessions},
                           {"settings", to_json(settings_)},
                           {"vae_training_seconds", std::round(progress_.vae_seconds)},
                           {"diffusion_training_seconds", std::round(progress_.diffusion_seconds)},
                           {"decoder_training_seconds", std::round(progress_.decoder_seconds)},
                           {"refine_training_seconds", std::round(progress_.refine_seconds)},
                           {"detail_training_seconds", std::round(progress_.detail_seconds)},
                           {"latent_scaling_factor", progress_.scaling_factor}};
  export_diffusers_model(model, out_dir, dtype);
}

}  // namespace dd::training
