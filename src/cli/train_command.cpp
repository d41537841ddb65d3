#include "cli/train_command.h"

#include <atomic>
#include <csignal>
#include <iostream>
#include <memory>
#include <sstream>

#include "training/train_run.h"

namespace dd::cli {

namespace {

std::atomic<bool> g_stop_requested{false};

void request_stop(int) { g_stop_requested = true; }

struct TrainArgs {
  training::TrainingSettings settings;
  std::string work_dir = "train-work";
  std::string out = "diffusiond-scenes";
  std::string save_dtype = "fp16";
  double max_minutes = 0;
  int max_steps = 0;
  double checkpoint_minutes = 2;
};

// The command that reproduces this model, recorded beside it (the defaults spelled out).
std::string reproducing_command(const TrainArgs& args) {
  const auto& s = args.settings;
  std::ostringstream command;
  command << "diffusiond train --seed " << s.seed << " --vae-steps " << s.vae_steps
          << " --vae-batch " << s.vae_batch << " --vae-lr " << s.vae_lr << " --steps " << s.steps
          << " --batch " << s.batch << " --lr " << s.lr << " --ema-decay " << s.ema_decay
          << " --decoder-steps " << s.decoder_steps << " --refine-steps " << s.refine_steps
          << " --detail-steps " << s.detail_steps << " --save-dtype " << args.save_dtype
          << " --out " << args.out;
  if (args.max_steps > 0) command << " --max-steps " << args.max_steps;
  return command.str();
}

torch::ScalarType save_dtype(const std::string& name) {
  if (name == "fp32") return torch::kFloat32;
  if (name == "bf16") return torch::kBFloat16;
  return torch::kFloat16;
}

void run_train(const TrainArgs& args) {
  training::TrainRun run(args.work_dir, args.settings);
  training::RunLimits limits;
  limits.max_minutes = args.max_minutes;
  limits.max_steps = args.max_steps;
  limits.checkpoint_seconds = args.checkpoint_minutes * 60;
  limits.stop = &g_stop_requested;
  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);
  const bool done = run.run(limits, std::cerr, reproducing_command(args));
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  if (!done) return;
  run.export_model(args.out, save_dtype(args.save_dtype));
  std::cerr << "diffusiond: trained model written to " << args.out << std::endl;
}

}  // namespace

void add_train_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<TrainArgs>();
  auto& s = args->settings;
  auto* cmd = app.add_subcommand(
      "train",
      "Train the built-in scene model (VAE, then UNet + text encoder) on procedural "
      "scenes; resumable: run again with the same --work-dir to continue");
  cmd->add_option("--work-dir", args->work_dir, "Checkpoints and progress")->capture_default_str();
  cmd->add_option("--out", args->out, "Where the finished model (a diffusers folder) goes")
      ->capture_default_str();
  cmd->add_option("--seed", s.seed, "Seed of the data, the noise and the initial weights")
      ->capture_default_str();
  cmd->add_option("--vae-steps", s.vae_steps, "VAE training steps")->capture_default_str();
  cmd->add_option("--vae-batch", s.vae_batch, "Pictures per VAE step")->capture_default_str();
  cmd->add_option("--vae-lr", s.vae_lr, "Peak VAE learning rate")->capture_default_str();
  cmd->add_option("--steps", s.steps, "UNet + text encoder training steps")->capture_default_str();
  cmd->add_option("--batch", s.batch, "Pictures per UNet step")->capture_default_str();
  cmd->add_option("--lr", s.lr, "Peak UNet + text encoder learning rate")->capture_default_str();
  cmd->add_option("--decoder-steps", s.decoder_steps,
                  "Steps training the VAE decoder alone after the UNet (0 = none)")
      ->capture_default_str();
  cmd->add_option(
         "--refine-steps", s.refine_steps,
         "Steps refining the UNet and text encoder with offset noise at the end (0 = none)")
      ->capture_default_str();
  cmd->add_option("--detail-steps", s.detail_steps,
                  "Steps continuing the refinement on the plain noise loss (no min-SNR "
                  "weighting), which sharpens small shapes (0 = none)")
      ->capture_default_str();
  cmd->add_option("--ema-decay", s.ema_decay, "Decay of the exported weight average")
      ->capture_default_str();
  cmd->add_option("--save-dtype", args->save_dtype, "Stored weight type of the exported model")
      ->capture_default_str()
      ->check(CLI::IsMember({"fp32", "fp16", "bf16"}));
  cmd->add_option("--max-minutes", args->max_minutes,
                  "Stop (with a checkpoint) after this long; 0 = until done")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6));
  cmd->add_option("--max-steps", args->max_steps,
                  "Stop (with a checkpoint) after this many steps; 0 = until done")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000000));
  cmd->add_option("--checkpoint-minutes", args->checkpoint_minutes,
                  "Checkpoint at least this often (the most a crash can lose)")
      ->capture_default_str()
      ->check(CLI::Range(0.05, 1e4));
  cmd->callback([args, &exit_code] {
    run_train(*args);
    exit_code = 0;
  });
}

}  // namespace dd::cli
