#include "cli/bench_command.h"

#include <iostream>
#include <memory>
#include <string>

#include "bench/flux_bench.h"
#include "bench/flux_report.h"
#include "bench/report.h"
#include "bench/run.h"
#include "cli/compute_options.h"
#include "pipeline/limits.h"
#include "pipeline/resolve.h"
#include "util/error.h"

namespace dd::cli {

namespace {

// Numbers are taken as text and checked here, so that every bad value is one
// "diffusiond: error: ..." line with exit status 1 like any other bad input.
struct BenchArgs {
  std::string arch = "sd15";
  std::string width = "0", height = "0", runs = "3", image_runs = "1", load_runs = "1";
  // The whole image runs the engine's default step count unless told otherwise.
  std::string steps = std::to_string(*pipeline::engine_defaults().steps);
  ComputeOptions compute;
  std::string tokenizer, work_dir;
  bool json = false;
  bool tiny = false;
  bool unfused_baseline = false;
  bool op_profile = false;
  // FLUX only (--arch flux-schnell|flux-dev).
  std::string weights = "fp8", t5_weights = "fp8";
  bool drop_t5 = true;
  bool dtype_given = false, runs_given = false;  // FLUX has its own defaults for these
};

int parse_int(const std::string& option, const std::string& text, int min, int max) {
  size_t used = 0;
  int value = 0;
  try {
    value = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || value < min || value > max)
    throw Error("bench: " + option + " must be a whole number in " + std::to_string(min) + ".." +
                std::to_string(max) + ", got '" + text + "'");
  return value;
}

bench::BenchOptions parse(const BenchArgs& a, const std::vector<std::string>& extras) {
  if (!extras.empty()) throw Error("bench: unexpected argument '" + extras.front() + "'");
  ComputeTarget target;
  try {
    target = resolve_compute(a.compute);
  } catch (const Error& e) {
    throw Error(std::string("bench: ") + e.what());
  }
  bench::BenchOptions o;
  o.arch = a.arch;
  o.width = parse_int("--width", a.width, 0, 4096);
  o.height = parse_int("--height", a.height, 0, 4096);
  o.steps = parse_int("--steps", a.steps, 1, pipeline::limits::kMaxSteps);
  o.dtype = target.dtype;
  o.device = target.device;
  o.runs = parse_int("--runs", a.runs, 1, 100);
  o.image_runs = parse_int("--image-runs", a.image_runs, 0, 100);
  o.load_runs = parse_int("--load-runs", a.load_runs, 1, 100);
  o.tokenizer_dir = a.tokenizer;
  o.work_dir = a.work_dir;
  o.tiny = a.tiny;
  o.unfused_baseline = a.unfused_baseline;
  o.op_profile = a.op_profile;
  return o;
}

// FLUX is built in memory (no checkpoint, no tokenizer) and computes in bf16 on the CPU; the
// SD-only options are refused rather than ignored.
bench::FluxBenchOptions parse_flux(const BenchArgs& a, const std::vector<std::string>& extras) {
  if (!extras.empty()) throw Error("bench: unexpected argument '" + extras.front() + "'");
  if (a.compute.device != "cpu" || a.compute.dtype != "bf16")
    throw Error("bench: FLUX runs on the CPU in bf16 (--device cpu --dtype bf16)");
  if (a.unfused_baseline || a.op_profile || !a.tokenizer.empty())
    throw Error("bench: --unfused-baseline, --op-profile and --tokenizer are for the SD archs");
  bench::FluxBenchOptions o;
  o.arch = a.arch;
  const int width = parse_int("--width", a.width, 0, 4096);
  const int height = parse_int("--height", a.height, 0, 4096);
  if (width > 0) o.width = width;
  if (height > 0) o.height = height;
  o.runs = parse_int("--runs", a.runs, 1, 100);
  o.weights = bench::weight_format(a.weights);
  o.t5_weights = bench::weight_format(a.t5_weights);
  o.drop_t5 = a.drop_t5;
  o.tiny = a.tiny;
  return o;
}

void run_flux(BenchArgs args, const std::vector<std::string>& extras) {
  // FLUX's defaults where the SD ones were left (a step is minutes on a CPU).
  if (!args.dtype_given) args.compute.dtype = "bf16";
  if (!args.runs_given) args.runs = "1";
  const auto result = bench::run_flux_bench(parse_flux(args, extras), std::cerr);
  if (args.json)
    std::cout << bench::flux_bench_json(result).dump(2) << "\n";
  else
    bench::print_flux_bench_table(result, std::cout);
}

void run(const BenchArgs& args, const std::vector<std::string>& extras) {
  if (bench::is_flux_bench_arch(args.arch)) return run_flux(args, extras);
  const auto result = bench::run_bench(parse(args, extras), std::cerr);
  if (args.json)
    std::cout << bench::bench_json(result).dump(2) << "\n";
  else
    bench::print_bench_table(result, std::cout);
}

const char* const kFooter =
    "Builds the preset with random weights, writes it once as a single-file checkpoint (bf16) and "
    "loads it with the engine's loader, then measures medians of --runs runs (after one untimed "
    "run that counts the FLOPs of every convolution and matrix product): text encoding, one UNet "
    "step without and with classifier-free guidance (batch 1 and 2), VAE decode, a whole image "
    "(--image-runs; 0 skips it), checkpoint load (--load-runs) and peak resident memory, while "
    "loading and per part (the \"+GiB\" "
    "column: the most a part adds above the loaded model).\n"
    "Ceiling: a 2x640x64x64 3x3 convolution to 640 channels and a 4096^3 matrix product, each in "
    "bf16 and fp32 (timed runs of at least 1 s), measured before and after the model in the same "
    "run, the better of the two kept. Efficiency = (FLOPs / median seconds) / ceiling, "
    "where the ceiling is the better of convolution and matrix product in the run's --dtype "
    "(text encoders compute in fp32 in both).\n"
    "FLUX (--arch flux-schnell|flux-dev; default 1024x1024, bf16, 1 run): the full-size "
    "transformer "
    "and T5-XXL are built in memory with random weights in --weights / --t5-weights form, then: T5 "
    "encode (256 or 512 tokens), T5 dropped (--keep-t5 keeps it), one transformer step, expanding "
    "every stored weight once, one VAE decode, the attention kernels on the step's shape, and the "
    "peak resident memory of each phase.";

}  // namespace

void add_bench_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<BenchArgs>();
  auto* cmd = app.add_subcommand(
      "bench", "Measure speed, efficiency and memory of a full-size model (random weights)");
  const auto option = [cmd](const char* name, std::string& value, const char* type,
                            const char* help) {
    return cmd->add_option(name, value, help)->type_name(type);
  };
  option("--arch", args->arch, "NAME", "Preset: sd15, sd21, sdxl, flux-schnell or flux-dev")
      ->capture_default_str();
  option("--width", args->width, "W", "Image width, a multiple of 8 (default: the preset's)");
  option("--height", args->height, "H", "Image height, a multiple of 8 (default: the preset's)");
  option("--steps", args->steps, "N", "Steps of the whole image")->capture_default_str();
  option("--dtype", args->compute.dtype, "fp32|bf16|fp16", "Compute type (fp16: CUDA only)")
      ->capture_default_str();
  option("--device", args->compute.device, "cpu|cuda[:N]", "Where to compute")
      ->capture_default_str();
  option("--runs", args->runs, "N", "Timed runs per part (the median is reported)")
      ->capture_default_str();
  option("--image-runs", args->image_runs, "N", "Timed whole images (0: none)")
      ->capture_default_str();
  option("--load-runs", args->load_runs, "N", "Timed checkpoint loads")->capture_default_str();
  option("--tokenizer", args->tokenizer, "DIR",
         "Folder with CLIP's vocab.json and merges.txt (default: a byte-level stand-in)");
  option("--work-dir", args->work_dir, "DIR",
         "Where the temporary checkpoint goes (default: the system's temp folder)");
  cmd->add_flag("--json", args->json, "Print JSON instead of a table");
  cmd->add_flag("--unfused-baseline", args->unfused_baseline,
                "Also time the guided UNet step with the unfused (matmul + softmax) attention, "
                "for the fused kernel's before/after ratio");
  cmd->add_flag("--op-profile", args->op_profile,
                "Also run the guided UNet step and the VAE decode once more with each operator "
                "timed, and list where their time goes");
  option("--weights", args->weights, "bf16|fp8|q8_0|q4_k", "FLUX: the transformer's stored weights")
      ->capture_default_str();
  option("--t5-weights", args->t5_weights, "bf16|fp8|q8_0|q4_k", "FLUX: T5's stored weights")
      ->capture_default_str();
  cmd->add_flag("--drop-t5,!--keep-t5", args->drop_t5,
                "FLUX: free T5 after encoding, before the transformer is built (default)");
  // For the tool's own tests: a narrow model of the preset's structure, fast at any size.
  cmd->add_flag("--tiny", args->tiny)->group("");
  cmd->footer(kFooter);
  cmd->allow_extras();
  cmd->callback([args, cmd, &exit_code] {
    args->dtype_given = cmd->count("--dtype") > 0;
    args->runs_given = cmd->count("--runs") > 0;
    run(*args, cmd->remaining());
    exit_code = 0;
  });
}

}  // namespace dd::cli
