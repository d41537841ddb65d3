#include "bench/run.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "bench/arch_json.h"
#include "bench/checkpoint.h"
#include "bench/op_profiler.h"
#include "bench/process_memory.h"
#include "bench/standin_tokenizer.h"
#include "bench/tiny_model.h"
#include "models/attention.h"
#include "models/device.h"
#include "models/presets.h"
#include "models/tiny_decoder.h"
#include "pipeline/family_defaults.h"
#include "pipeline/generate.h"
#include "pipeline/model.h"
#include "pipeline/resolve.h"
#include "pipeline/text_conditioning.h"
#include "util/error.h"

namespace dd::bench {

namespace {

namespace fs = std::filesystem;

const char* const kPrompt = "a photograph of an astronaut riding a horse on the moon, detailed";
const char* const kNegativePrompt = "blurry, low quality";

// The model keeps recently encoded prompts (pipeline::PromptCache); a prompt it has not seen
// makes every timed run pay for the text encoders, as a request with new prompts does.
std::string fresh(const std::string& prompt) {
  static int runs = 0;
  return prompt + " " + std::to_string(++runs);
}

// A folder of this run's files, removed with everything in it when the run ends (or fails).
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& parent)
      : path_((parent.empty() ? fs::temp_directory_path() : fs::path(parent)) /
              ("diffusiond-bench-" + std::to_string(getpid()))) {
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// The preset (or its tiny variant) to measure; fills in the preset's size where none was given.
models::ModelConfig resolve_model(BenchOptions& options) {
  if (options.arch != "sd15" && options.arch != "sd21" && options.arch != "sdxl")
    throw Error("bench: --arch must be sd15, sd21 or sdxl, not '" + options.arch + "'");
  auto config = models::preset(options.arch);
  if (options.tiny) config = tiny_variant(config);
  if (options.width == 0) options.width = config.default_width;
  if (options.height == 0) options.height = config.default_height;
  if (options.width % 8 != 0 || options.height % 8 != 0)
    throw Error("bench: --width and --height must be multiples of 8, got " +
                std::to_string(options.width) + "x" + std::to_string(options.height));
  return config;
}

// Writes the random checkpoint (and, for a model that is not a preset, its architecture JSON)
// and says where DiffusionModel::load finds everything.
pipeline::ModelSource write_model(const models::ModelConfig& config, const BenchOptions& options,
                                  const fs::path& dir, BenchResult& result, std::ostream& log) {
  pipeline::ModelSource source;
  source.path = (dir / (config.name + ".safetensors")).string();
  source.dtype = options.dtype;
  source.device = options.device;
  log << "bench: writing a " << config.name << " checkpoint with random weights to " << source.path
      << "\n";
  result.checkpoint_bytes = write_random_checkpoint(config, source.path);
  if (options.tiny) {
    source.config_json = (dir / (config.name + ".arch.json")).string();
    std::ofstream(source.config_json) << arch_json(config).dump(2);
  }
  source.tokenizer_dir = options.tokenizer_dir;
  if (source.tokenizer_dir.empty()) {
    source.tokenizer_dir = (dir / "tokenizer").string();
    write_standin_tokenizer(source.tokenizer_dir);
  }
  result.tokenizer = options.tokenizer_dir.empty() ? "stand-in" : options.tokenizer_dir;
  return source;
}

std::shared_ptr<pipeline::DiffusionModel> load_model(const pipeline::ModelSource& source, int runs,
                                                     BenchResult& result, std::ostream& log) {
  log << "bench: loading the checkpoint (" << runs << " timed load" << (runs > 1 ? "s" : "")
      << ")\n";
  std::shared_ptr<pipeline::DiffusionModel> model;
  for (int i = 0; i < runs; ++i) {
    model.reset();  // the previous load's memory is not part of the next one
    malloc_trim(0);
    result.checkpoint_load.seconds.push_back(
        time_runs(1, [&] { model = pipeline::DiffusionModel::load(source); }).seconds.at(0));
  }
  result.loaded_rss_bytes = current_rss_bytes();
  return model;
}

// What the UNet is conditioned on, one row: the prompt's embeddings in the compute dtype, and
// for SDXL the pooled embedding and the micro-conditioning ids of an uncropped image.
struct UNetConditioning {
  torch::Tensor context, text_embeds, time_ids;
};

UNetConditioning conditioning(pipeline::DiffusionModel& model, const BenchOptions& options) {
  const auto cond = pipeline::encode_prompt(model, kPrompt, {});
  UNetConditioning c;
  c.context = cond.context.to(model.dtype());
  if (model.config().family != models::Family::SDXL) return c;
  c.text_embeds = cond.pooled.to(model.dtype());
  const float h = static_cast<float>(options.height), w = static_cast<float>(options.width);
  c.time_ids = torch::tensor({h, w, 0.0f, 0.0f, h, w}).unsqueeze(0).to(model.device());
  return c;
}

torch::Tensor rows(const torch::Tensor& t, int64_t batch) {
  if (!t.defined()) return t;
  std::vector<int64_t> shape(t.sizes().begin(), t.sizes().end());
  shape[0] = batch;
  return t.expand(shape).contiguous();
}

// One denoising step as pipeline::generate runs it: latents to the compute dtype and layout,
// the UNet, the prediction back to float32. A guided step is the batch of 2. On a GPU each run
// waits for its queued work, so that the time is the work's.
std::function<void()> unet_step_work(pipeline::DiffusionModel& model, const UNetConditioning& c,
                                     const BenchOptions& options, int64_t batch) {
  const auto latents =
      torch::randn({batch, model.config().unet.in_channels, options.height / 8, options.width / 8});
  const auto t =
      torch::full({batch}, 500.0, torch::TensorOptions(torch::kFloat32).device(model.device()));
  const auto context = rows(c.context, batch);
  const auto text_embeds = rows(c.text_embeds, batch);
  const auto time_ids = rows(c.time_ids, batch);
  return [&model, latents, t, context, text_embeds, time_ids] {
    model.unet->forward(model.to_compute(latents), t, context, text_embeds, time_ids)
        .to(torch::kFloat32);
    models::synchronize(model.device());
  };
}

std::function<void()> vae_decode_work(pipeline::DiffusionModel& model,
                                      const BenchOptions& options) {
  const auto& vae = model.config().vae;
  const auto z = torch::randn({1, vae.latent_channels, options.height / 8, options.width / 8});
  return [&model, z, scaling = vae.scaling_factor] {
    model.vae->decode(model.to_compute(z / scaling)).to(torch::kFloat32);
    models::synchronize(model.device());
  };
}

// One more untimed run of `work` with every operator's time recorded.
OperatorProfile profile(const std::function<void()>& work) {
  OperatorProfile result;
  const OpProfiler profiler;
  const auto start = std::chrono::steady_clock::now();
  work();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.operators = profiler.by_time();
  return result;
}

// The TAESD-style preview decoder (random weights) on the same latents: what a preview costs
// next to the real decode.
Measurement preview_decode(pipeline::DiffusionModel& model, const BenchOptions& options) {
  const auto& vae = model.config().vae;
  models::TinyDecoderConfig config;
  config.latent_channels = vae.latent_channels;
  models::TinyDecoder decoder(config);
  decoder->to(model.device(), model.dtype());
  const auto z = torch::randn({1, vae.latent_channels, options.height / 8, options.width / 8});
  return measure(options.runs, [&] {
    decoder->forward(model.to_compute(z)).to(torch::kFloat32);
    models::synchronize(model.device());
  });
}

// A whole txt2img image through pipeline::generate with new prompts (the default sampler, Euler
// a, calls the UNet once per step). Its FLOPs are those of its parts: two prompts, `steps`
// guided steps and one decode.
Measurement whole_image(pipeline::DiffusionModel& model, const BenchResult& r) {
  // The engine's defaults (pipeline/resolve.h) for everything the bench does not set.
  pipeline::GenerationParams params;
  if (r.options.width > 0) params.width = r.options.width;
  if (r.options.height > 0) params.height = r.options.height;
  params.steps = r.options.steps;
  params.seed = 1;
  const auto defaults = pipeline::param_defaults(model.config(), {});
  auto request = pipeline::engine_request(pipeline::resolve(params, defaults));
  Measurement m = time_runs(r.options.image_runs, [&] {
    request.prompt = fresh(kPrompt);
    request.negative_prompt = fresh(kNegativePrompt);
    pipeline::generate(model, request);
  });
  m.flops = 2.0 * r.text_encode.flops;
  m.flops += static_cast<double>(r.options.steps) * r.unet_cfg_step.flops;
  m.flops += r.vae_decode.flops;
  return m;
}

// Runs one part with its memory measured: the allocator's free blocks are returned first so
// that what earlier parts left is not counted as this one's. Keeps the highest peak in
// `inference_peak` (left alone where the kernel cannot reset the peak).
Measurement with_memory(const std::function<Measurement()>& part, int64_t& inference_peak) {
  malloc_trim(0);
  const int64_t start = current_rss_bytes();
  const bool reset = reset_peak_rss();
  Measurement m = part();
  if (!reset) return m;
  const int64_t peak = peak_rss_bytes();
  m.peak_rss_above_start = peak - start;
  inference_peak = std::max(inference_peak, peak);
  return m;
}

// Every part, each with its memory; returns the most resident memory any of them reached.
int64_t measure_parts(pipeline::DiffusionModel& model, BenchResult& r, std::ostream& log) {
  const auto& o = r.options;
  int64_t peak = 0;
  log << "bench: text encoding\n";
  r.text_encode = with_memory(
      [&] {
        return measure(o.runs, [&] {
          pipeline::encode_prompt(model, fresh(kPrompt), {});
          models::synchronize(model.device());
        });
      },
      peak);
  const auto c = conditioning(model, o);
  log << "bench: UNet step without guidance (batch 1)\n";
  r.unet_step = with_memory([&] { return measure(o.runs, unet_step_work(model, c, o, 1)); }, peak);
  log << "bench: UNet step with guidance (batch 2)\n";
  const auto guided_step = unet_step_work(model, c, o, 2);
  r.unet_cfg_step = with_memory([&] { return measure(o.runs, guided_step); }, peak);
  if (o.unfused_baseline) {
    log << "bench: UNet step with guidance, unfused attention (the before of the fused kernel)\n";
    const models::UnfusedAttentionScope unfused;
    r.unet_cfg_step_unfused = with_memory([&] { return measure(o.runs, guided_step); }, peak);
  }
  log << "bench: VAE decode\n";
  const auto decode = vae_decode_work(model, o);
  r.vae_decode = with_memory([&] { return measure(o.runs, decode); }, peak);
  if (o.op_profile) {
    log << "bench: operator profile of the guided step and the VAE decode\n";
    r.unet_cfg_step_profile = profile(guided_step);
    r.vae_decode_profile = profile(decode);
  }
  log << "bench: preview decode (TAESD-style tiny decoder)\n";
  r.preview_decode = with_memory([&] { return preview_decode(model, o); }, peak);
  log << "bench: whole image, " << o.steps << " steps\n";
  r.image = with_memory([&] { return whole_image(model, r); }, peak);
  return peak;
}

}  // namespace

BenchResult run_bench(const BenchOptions& options, std::ostream& log) {
  BenchResult result;
  result.options = options;
  const auto config = resolve_model(result.options);
  result.threads = at::get_num_threads();
  torch::NoGradGuard no_grad;

  // A tiny model's timings mean nothing; small shapes keep its ceiling quick too.
  const CeilingShapes ceiling_shapes =
      options.tiny ? CeilingShapes{1, 64, 32, 512, 0.01} : CeilingShapes{};
  log << "bench: ceiling (large convolution and matrix product, bf16 and fp32)\n";
  const Ceiling before = measure_ceiling(options.runs, ceiling_shapes, options.device);

  ScratchDir scratch(options.work_dir);
  const auto source = write_model(config, result.options, scratch.path(), result, log);
  // The checkpoint's random modules are gone; give their memory back so that the peaks measured
  // from here on are the engine's (loading, then inference), not this tool's.
  malloc_trim(0);
  bool by_phase = reset_peak_rss();

  auto model = load_model(source, options.load_runs, result, log);
  result.load_peak_rss_bytes = peak_rss_bytes();
  models::reset_peak_device_memory(options.device);
  const int64_t inference_peak = measure_parts(*model, result, log);
  result.device_peak_bytes = models::peak_device_memory(options.device);
  // Other processes come and go during a long run: the ceiling is the machine's best of two
  // measurements, one on each side of the model's. Its tensors are not the engine's, so it is
  // not in the peaks.
  log << "bench: ceiling again\n";
  result.ceiling = better_of(before, measure_ceiling(options.runs, ceiling_shapes, options.device));
  result.inference_peak_rss_bytes = by_phase ? inference_peak : 0;
  result.peak_rss_bytes =
      by_phase ? std::max(result.load_peak_rss_bytes, inference_peak) : peak_rss_bytes();
  result.peak_rss_by_phase = by_phase;
  return result;
}

}  // namespace dd::bench
