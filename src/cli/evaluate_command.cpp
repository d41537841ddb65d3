#include "cli/evaluate_command.h"

#include <iostream>
#include <memory>

#include "cli/model_choice.h"
#include "cli/param_options.h"
#include "models/device.h"
#include "pipeline/family_defaults.h"
#include "pipeline/generate.h"
#include "pipeline/image_tensor.h"
#include "pipeline/limits.h"
#include "pipeline/resolve.h"
#include "pipeline/sampler_names.h"
#include "training/scene_evaluation.h"
#include "training/vae_round_trip.h"

namespace dd::cli {

namespace {

struct EvaluateArgs {
  std::string model, models_dir;
  pipeline::GenerationParams params;  // steps, sampler, cfg as given; resolve() fills the rest
  int64_t seed = 0;
  int count = 100;
  std::string dtype = "fp32";
  bool json = false;
  bool vae_round_trip = false;
};

void run_evaluate(const EvaluateArgs& args) {
  // evaluate runs on the CPU (no --device): its dtypes are the CPU's.
  const auto dtype = models::parse_compute_dtype(args.dtype, torch::kCPU);
  const ModelChoice choice = choose_model(args.model, args.models_dir, dtype);
  auto model = pipeline::DiffusionModel::load(choice.source);
  // Every scene shares the resolved parameters; its prompt and seed are its own.
  const auto base =
      pipeline::resolve(args.params, pipeline::param_defaults(model->config(), choice.defaults));
  const training::SceneGenerator round_trip =
      training::vae_round_trip_generator(model->vae, model->dtype());
  const auto generate = [&](const std::string& prompt, uint64_t seed) {
    if (args.vae_round_trip) return round_trip(prompt, seed);
    pipeline::GenerationParams params = base;
    params.prompt = prompt;
    params.seed = static_cast<int64_t>(seed);
    const auto request = pipeline::engine_request(params);
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
  const auto& defaults = pipeline::engine_defaults();
  add_param(cmd, "--steps", args->params.steps, "Sampling steps" + model_default(defaults.steps))
      ->check(CLI::Range(1, pipeline::limits::kMaxSteps));
  cmd->add_option("--seed", args->seed, "Picks the scenes and their noise")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{4294967295LL}));
  cmd->add_option("--count", args->count, "Scenes to generate and grade")
      ->capture_default_str()
      ->check(CLI::Range(1, training::kMaxEvaluationCount));
  add_param(cmd, "--sampler", args->params.sampler,
            "Sampler: " + pipeline::sampler_choices_text() +
                model_default(std::optional(pipeline::sampler_display_name(*defaults.sampler))))
      ->transform([](std::string name) { return pipeline::canonical_sampler_name(name); });
  add_param(cmd, "--cfg", args->params.cfg,
            "Classifier-free guidance scale" + model_default(defaults.cfg))
      ->check(CLI::Range(0.0, pipeline::limits::kMaxCfg));
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
