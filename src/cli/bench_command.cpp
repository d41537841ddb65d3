#include "cli/bench_command.h"

#include <iostream>
#include <memory>
#include <string>

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

void run(const BenchArgs& args, const std::vector<std::string>& extras) {
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
    "(text encoders compute in fp32 in both).";

}  // namespace

void add_bench_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<BenchArgs>();
  auto* cmd = app.add_subcommand(
      "bench", "Measure speed, efficiency and memory of a full-size model (random weights)");
  const auto option = [cmd](const char* name, std::string& value, const char* type,
                            const char* help) {
    return cmd->add_option(name, value, help)->type_name(type);
  };
  option("--arch", args->arch, "NAME", "Preset: sd15, sd21 or sdxl")->capture_default_str();
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
  // For the tool's own tests: a narrow model of the preset's structure, fast at any size.
  cmd->add_flag("--tiny", args->tiny)->group("");
  cmd->footer(kFooter);
  cmd->allow_extras();
  cmd->callback([args, cmd, &exit_code] {
    run(*args, cmd->remaining());
    exit_code = 0;
  });
}

}  // namespace dd::cli
