#include "cli/evaluate_command.h"

#include <iostream>
#include <memory>

#include "cli/model_choice.h"
#include "models/device.h"
#include "pipeline/generate.h"
#include "pipeline/image_tensor.h"
#include "pipeline/sampler_names.h"
#include "training/scene_evaluation.h"
#include "training/vae_round_trip.h"

namespace dd::cli {

namespace {

struct EvaluateArgs {
  std::string model, models_dir;
  int steps = 20;
  int64_t seed = 0;
  int count = 100;
  std::string sampler;  // "" = the model's default
  double cfg = -1;      // < 0 = the model's default
  std::string dtype = "fp32";
  bool json = false;
  bool vae_round_trip = false;
};

// The request for one scene: what the user set, the model's defaults for the rest.
pipeline::GenerationRequest scene_request(const EvaluateArgs& args, const ModelChoice& choice) {
  pipeline::GenerationRequest request;
  request.steps = args.steps;
  request.cfg = args.cfg >= 0 ? args.cfg : choice.defaults.cfg;
  request.sampler = args.sampler.empty() ? choice.defaults.sampler : args.sampler;
  request.spacing = choice.defaults.spacing;
  request.width = choice.defaults.width;  // 0 = the model's native size
  request.height = choice.defaults.height;
  return request;
}

void run_evaluate(const EvaluateArgs& args) {
  // evaluate runs on the CPU (no --device): its dtypes are the CPU's.
  const auto dtype = models::parse_compute_dtype(args.dtype, torch::kCPU);
  const ModelChoice choice = choose_model(args.model, args.models_dir, dtype);
  auto model = pipeline::DiffusionModel::load(choice.source);
  const pipeline::GenerationRequest base = scene_request(args, choice);
  const training::SceneGenerator round_trip =
      training::vae_round_trip_generator(model->vae, model->dtype());
  const auto generate = [&](const std::string& prompt, uint64_t seed) {
    if (args.vae_round_trip) return round_trip(prompt, seed);
    pipeline::GenerationRequest request = base;
    request.prompt = prompt;
    request.seed = seed;
    const auto result = pipeline::generate(*model, request);
    return pipeline::tensor_to_image(result.images[0].permute({2, 0, 1}));
  };
  training::EvaluationOptions options;
  options.seed = static_cast<uint64_t>(args.seed);
  options.count = args.count;
  std::cerr << "evaluating " << choice.name << " on " << args.count << " held-out scenes\n";
  const auto report = training::evaluate_scenes(generate, options, [](int done, int total) {
    std::cerr << "\rscene " << done << "/" << total << (done == total ? "\n" : "") << std::flush;
  });
  if (args.json) {
    auto json = training::report_json(report);
    json["model"] = choice.name;
    std::cout << json.dump(2) << "\n";
  } else {
    std::cout << "model: " << choice.name << "\n";
    training::print_report(report, std::cout);
  }
}

}  // namespace

void add_evaluate_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<EvaluateArgs>();
  auto* cmd = app.add_subcommand(
      "evaluate", "Grade a model on held-out scenes: colour, shape and position accuracy");
  cmd->add_option("--model", args->model,
                  "Checkpoint file or diffusers folder, or a model id in --models-dir (default: "
                  "the built-in diffusiond-scenes)");
  cmd->add_option("--models-dir", args->models_dir,
                  "Where model ids are looked up (default: the built-in models folder)");
  cmd->add_option("--steps", args->steps, "Sampling steps")
      ->capture_default_str()
      ->check(CLI::Range(1, 500));
  cmd->add_option("--seed", args->seed, "Picks the scenes and their noise")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{4294967295LL}));
  cmd->add_option("--count", args->count, "Scenes to generate and grade")
      ->capture_default_str()
      ->check(CLI::Range(1, training::kMaxEvaluationCount));
  cmd->add_option("--sampler", args->sampler, "Sampler (default: the model's)")
      ->transform([](std::string name) { return pipeline::canonical_sampler_name(name); });
  cmd->add_option("--cfg", args->cfg, "Classifier-free guidance scale (default: the model's)")
      ->check(CLI::Range(0.0, 50.0));
  cmd->add_option("--dtype", args->dtype, "fp32 or bf16")
      ->capture_default_str()
      ->check(CLI::IsMember({"fp32", "bf16"}));
  cmd->add_flag("--json", args->json, "Print the report as JSON");
  cmd->add_flag("--vae-round-trip", args->vae_round_trip,
                "Grade the model's VAE alone: each true scene encoded and decoded, no sampling "
                "(the ceiling of the whole model)");
  cmd->callback([args, &exit_code] {
    run_evaluate(*args);
    exit_code = 0;
  });
}

}  // namespace dd::cli
