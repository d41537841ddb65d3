#include "cli/generate_command.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>

#include "cli/compute_options.h"
#include "cli/model_choice.h"
#include "cli/param_options.h"
#include "cli/progress_bar.h"
#include "io/image.h"
#include "io/tensor_file.h"
#include "pipeline/family_defaults.h"
#include "pipeline/generate.h"
#include "pipeline/image_tensor.h"
#include "pipeline/latent_preview.h"
#include "pipeline/limits.h"
#include "pipeline/parameters_text.h"
#include "pipeline/resolve.h"
#include "pipeline/sampler_names.h"

namespace dd::cli {

namespace {

struct GenerateArgs {
  std::string model, models_dir;
  pipeline::ModelSource source;       // --config and --tokenizer override the chosen model's
  pipeline::GenerationParams params;  // what the command line gave; resolve() does the rest
  ComputeOptions compute;
  std::string init_image, mask, latents, output_latents, output;
  std::string preview, preview_decoder;
  int preview_every = 1;
  std::vector<std::string> loras;
  // SDXL micro-conditioning as typed: sizes "WIDTHxHEIGHT", crops "TOP,LEFT".
  std::string original_size, crop_top_left, target_size;
  std::string negative_original_size, negative_crop_top_left, negative_target_size;
  bool quiet = false;
};

pipeline::ModelSource chosen_source(GenerateArgs& args, pipeline::GenerationParams& model_defaults,
                                    std::string& model_name) {
  const ComputeTarget target = resolve_compute(args.compute);
  const ModelChoice choice = choose_model(args.model, args.models_dir, target.dtype, target.device);
  model_defaults = choice.defaults;  // a model named by id brings its sidecar's, as in the server
  model_name = choice.name;
  pipeline::ModelSource source = choice.source;
  if (!args.source.config_json.empty()) source.config_json = args.source.config_json;
  if (!args.source.tokenizer_dir.empty()) source.tokenizer_dir = args.source.tokenizer_dir;
  return source;
}

// OUT.png for one image; OUT-1.png .. OUT-N.png for several.
std::string output_path(const std::string& output, int index, int count) {
  if (count == 1) return output;
  const std::filesystem::path path(output);
  return (path.parent_path() /
          (path.stem().string() + "-" + std::to_string(index + 1) + path.extension().string()))
      .string();
}

torch::Tensor read_latents(const std::string& path) {
  io::SafetensorsFile file(path);
  auto latents = io::load_tensor(file, "latents", torch::kFloat32);
  if (latents.dim() != 4) throw Error(path + ": 'latents' must be NCHW (4 dimensions)");
  return latents;
}

// "A<sep>B" with two non-negative integers, or nullopt for "".
std::optional<std::array<int, 2>> parse_pair(const std::string& text, char sep,
                                             const std::string& option, const char* form) {
  if (text.empty()) return std::nullopt;
  const auto at = text.find(sep);
  try {
    size_t used_a = 0, used_b = 0;
    if (at == std::string::npos) throw std::invalid_argument("no separator");
    const int a = std::stoi(text.substr(0, at), &used_a);
    const int b = std::stoi(text.substr(at + 1), &used_b);
    if (used_a != at || used_b != text.size() - at - 1 || a < 0 || b < 0)
      throw std::invalid_argument("trailing text");
    return std::array<int, 2>{a, b};
  } catch (const std::exception&) {
    throw Error(option + ": expected " + form + ", got '" + text + "'");
  }
}

// Sizes are typed WIDTHxHEIGHT like everywhere on the command line; the reference order is
// (height, width).
std::optional<std::array<int, 2>> parse_size(const std::string& text, const std::string& option) {
  auto pair = parse_pair(text, 'x', option, "WIDTHxHEIGHT");
  if (pair) std::swap((*pair)[0], (*pair)[1]);
  return pair;
}

pipeline::MicroConditioning parse_micro(const std::string& original, const std::string& crop,
                                        const std::string& target, const std::string& prefix) {
  return {parse_size(original, prefix + "original-size"),
          parse_pair(crop, ',', prefix + "crop-top-left", "TOP,LEFT"),
          parse_size(target, prefix + "target-size")};
}

// The engine request: the command line's parameters resolved against the model's defaults,
// then the files it names.
pipeline::GenerationRequest make_request(GenerateArgs& args,
                                         const pipeline::GenerationParams& model_defaults,
                                         const pipeline::DiffusionModel& model) {
  auto& params = args.params;
  params.micro = parse_micro(args.original_size, args.crop_top_left, args.target_size, "--");
  params.negative_micro = parse_micro(args.negative_original_size, args.negative_crop_top_left,
                                      args.negative_target_size, "--negative-");
  const auto resolved =
      pipeline::resolve(params, pipeline::param_defaults(model.config(), model_defaults));
  auto request = pipeline::engine_request(resolved);
  for (const auto& lora : args.loras) request.loras.push_back(pipeline::parse_lora_spec(lora));
  if (!args.init_image.empty())
    request.init_image = pipeline::image_to_tensor(io::read_png(args.init_image));
  if (!args.mask.empty()) request.mask = pipeline::mask_to_tensor(io::read_png(args.mask));
  if (!args.latents.empty()) request.latents = read_latents(args.latents);
  return request;
}

void run_generate(GenerateArgs& args) {
  std::string model_name;
  pipeline::GenerationParams model_defaults;
  const pipeline::ModelSource source = chosen_source(args, model_defaults, model_name);

  // The preview decoder is checked before the (much slower) model load.
  if (args.preview.empty() && !args.preview_decoder.empty())
    throw Error("--preview-decoder needs --preview (the PNG file to write)");
  std::optional<models::TinyDecoder> preview_decoder;
  if (!args.preview_decoder.empty())
    preview_decoder = models::load_tiny_decoder(args.preview_decoder);

  const auto start = std::chrono::steady_clock::now();
  auto model = pipeline::DiffusionModel::load(source);
  const auto loaded = std::chrono::steady_clock::now();
  pipeline::GenerationHooks hooks;
  if (!args.preview.empty()) {
    // A tiny decoder runs on the CPU (the latents come back from the model's device), in the
    // model's dtype where the CPU has it (fp16 does not); without one, a linear projection fitted
    // to the model's VAE gives latent-sized previews.
    const auto preview_dtype = model->dtype() == torch::kFloat16 ? torch::kFloat32 : model->dtype();
    auto decoder = preview_decoder
                       ? pipeline::PreviewDecoder::tiny(
                             *preview_decoder, model->config().vae.latent_channels, preview_dtype)
                       : pipeline::PreviewDecoder::linear(pipeline::fit_linear_preview(*model));
    hooks.latents = pipeline::LatentPreview(std::move(decoder), args.preview, args.preview_every);
  }
  const auto request = make_request(args, model_defaults, *model);
  ProgressBar bar(std::cerr, ::isatty(::fileno(stderr)) == 1);
  hooks.progress = [&](int step, int total) {
    if (!args.quiet) bar.step(step + 1, total);  // the hook counts the step just done from 0
    return true;
  };
  bar.start();
  const auto result = pipeline::generate(*model, request, hooks);
  const auto done = std::chrono::steady_clock::now();
  bar.finish();

  const int count = static_cast<int>(result.images.size(0));
  const int height = static_cast<int>(result.images.size(1));
  const int width = static_cast<int>(result.images.size(2));
  for (int i = 0; i < count; ++i) {
    const auto image = pipeline::tensor_to_image(result.images[i].permute({2, 0, 1}));
    const std::string path = output_path(args.output, i, count);
    io::write_png(path, image,
                  {{"parameters", pipeline::parameters_text(
                                      request, result.seeds[i], width, height,
                                      pipeline::text_model_info(model_name, model->config()))}});
    std::cout << path << " (seed " << result.seeds[i] << ")\n";
  }
  if (!args.output_latents.empty())
    io::save_safetensors(args.output_latents, {{"latents", result.latents}});
  using seconds = std::chrono::duration<double>;
  if (!args.quiet)
    std::cerr << "loaded in " << seconds(loaded - start).count() << " s, generated in "
              << seconds(done - loaded).count() << " s\n";
}

}  // namespace

void add_generate_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<GenerateArgs>();
  auto* cmd = app.add_subcommand("generate",
                                 "Generate images from a prompt (txt2img, img2img, inpainting)");
  const auto& defaults = pipeline::engine_defaults();
  cmd->add_option(
      "--model", args->model,
      "Checkpoint (a .safetensors file or a diffusers folder), or a model id in "
      "--models-dir, whose sidecar's defaults apply to options not given (default: the built-in "
      "diffusiond-scenes)");
  cmd->add_option("--models-dir", args->models_dir,
                  "Where model ids are looked up (default: the built-in models folder)");
  cmd->add_option("--config", args->source.config_json,
                  "Architecture JSON for models of non-standard size");
  cmd->add_option("--tokenizer", args->source.tokenizer_dir,
                  "Folder with vocab.json and merges.txt");
  auto& p = args->params;
  add_param(cmd, "--prompt", p.prompt, "What to draw; A1111 (word:1.2) weights are understood")
      ->required();
  add_param(cmd, "--negative-prompt", p.negative_prompt, "What to avoid");
  add_param(cmd, "--steps", p.steps, "Sampling steps" + model_default(defaults.steps))
      ->check(CLI::Range(1, pipeline::limits::kMaxSteps));
  add_param(cmd, "--cfg", p.cfg,
            "Classifier-free guidance scale, <= 1: off" + model_default(defaults.cfg));
  add_param(cmd, "--sampler", p.sampler,
            "Sampler: " + pipeline::sampler_choices_text() +
                model_default(std::optional(pipeline::sampler_display_name(*defaults.sampler))))
      ->transform([](std::string name) { return pipeline::canonical_sampler_name(name); });
  add_param(cmd, "--spacing", p.spacing,
            "Timestep spacing (default: the model's, else the sampler's)")
      ->check(CLI::IsMember({"leading", "linspace", "trailing"}));
  add_param(cmd, "--seed", p.seed, "Seed (default: random); image i uses seed + i");
  add_param(cmd, "--width", p.width, "Width, a multiple of 8 (default: the model's)");
  add_param(cmd, "--height", p.height, "Height, a multiple of 8 (default: the model's)");
  add_param(cmd, "--samples", p.samples, "Images to make" + model_default(defaults.samples))
      ->check(CLI::Range(1, pipeline::limits::kMaxSamples));
  add_param(cmd, "--clip-skip", p.clip_skip,
            "CLIP skip, 1 = last layer, 2 = penultimate" + model_default(defaults.clip_skip))
      ->check(CLI::Range(1, pipeline::limits::kMaxClipSkip));
  add_param(cmd, "--guidance", p.guidance,
            "FLUX dev/Fill: distilled guidance, an input of the model (no extra pass)" +
                model_default(defaults.guidance))
      ->check(CLI::Range(0.0, pipeline::limits::kMaxGuidance));
  add_param(cmd, "--true-cfg", p.true_cfg,
            "FLUX: > 1 runs a real CFG pass with the negative prompt (default 1: off)")
      ->check(CLI::Range(1.0, pipeline::limits::kMaxTrueCfg));
  add_param(cmd, "--max-sequence-length", p.max_sequence_length,
            "FLUX: T5 tokens the prompt is padded or cut to (default: the model's, 256 for "
            "schnell, 512 for dev)")
      ->check(CLI::Range(1, pipeline::limits::kMaxSequenceLength));
  cmd->add_option("--init-image", args->init_image, "PNG to start from (img2img / inpainting)");
  add_param(cmd, "--strength", p.strength,
            "How much of the init image to repaint, (0, 1]" + model_default(defaults.strength));
  cmd->add_option("--mask", args->mask, "PNG mask: white = repaint, black = keep");
  cmd->add_option("--original-size", args->original_size,
                  "SDXL: WIDTHxHEIGHT of the picture the model should imagine it was cut from "
                  "(default: the output size)");
  cmd->add_option("--crop-top-left", args->crop_top_left,
                  "SDXL: TOP,LEFT crop offset to condition on (default: 0,0)");
  cmd->add_option("--target-size", args->target_size,
                  "SDXL: WIDTHxHEIGHT target size to condition on (default: the output size)");
  cmd->add_option("--negative-original-size", args->negative_original_size,
                  "SDXL: --original-size for the negative prompt (default: the same)");
  cmd->add_option("--negative-crop-top-left", args->negative_crop_top_left,
                  "SDXL: --crop-top-left for the negative prompt (default: the same)");
  cmd->add_option("--negative-target-size", args->negative_target_size,
                  "SDXL: --target-size for the negative prompt (default: the same)");
  cmd->add_option("--lora", args->loras, "LoRA as FILE[:WEIGHT]; repeatable");
  add_compute_options(cmd, args->compute);
  cmd->add_option("--latents", args->latents,
                  "safetensors with the initial noise ('latents', NCHW float32)");
  cmd->add_option("--output-latents", args->output_latents,
                  "Write the final latents here (safetensors)");
  cmd->add_option("-o,--output", args->output, "Output PNG (OUT-1.png .. OUT-N.png for several)")
      ->required();
  cmd->add_option("--preview", args->preview,
                  "Write a preview of the running generation to this PNG (replaced as it goes)");
  cmd->add_option("--preview-decoder", args->preview_decoder,
                  "TAESD-style tiny decoder for --preview (taesd_decoder.safetensors or a "
                  "diffusers AutoencoderTiny file); without one, latent-sized previews from a "
                  "linear projection fitted to the model's VAE");
  cmd->add_option("--preview-every", args->preview_every, "Steps between previews")
      ->capture_default_str()
      ->check(CLI::Range(1, 500));
  cmd->add_flag(
      "-q,--quiet", args->quiet,
      "No progress output (else a progress bar on a terminal, a line per step otherwise)");
  cmd->callback([args, &exit_code] {
    run_generate(*args);
    exit_code = 0;
  });
}

}  // namespace dd::cli
