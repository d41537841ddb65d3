// `diffusiond bench`: the JSON report of a run on a tiny model, and one error line for bad
// options (the benchmark's pieces are tested in bench_tools_test.cpp).
// No timing is asserted: speed is what the tool reports, not what tests check.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/main.h"

namespace dd::cli {
namespace {

namespace fs = std::filesystem;

// Runs the CLI in-process and returns its exit status, with what it printed.
struct CliRun {
  int status;
  std::string out, err;
};

CliRun run_cli(std::vector<std::string> args) {
  args.insert(args.begin(), "diffusiond");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::ostringstream out, err;
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  const int status = run(static_cast<int>(argv.size()), argv.data());
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  return {status, out.str(), err.str()};
}

void expect_part(const nlohmann::json& report, const std::string& part) {
  SCOPED_TRACE(part);
  ASSERT_TRUE(report.contains(part));
  const auto& p = report[part];
  for (const char* key : {"flops", "seconds", "runs", "efficiency", "tflops"})
    EXPECT_TRUE(p.contains(key) && p[key].is_number()) << key;
  EXPECT_GT(p["flops"].get<double>(), 0);
  EXPECT_EQ(p["flops"].get<double>(), p["flops_by_kind"]["convolution"].get<double>() +
                                          p["flops_by_kind"]["linear"].get<double>() +
                                          p["flops_by_kind"]["matmul"].get<double>());
  EXPECT_GT(p["efficiency"].get<double>(), 0);
}

// The whole tool on a narrow model of each family's structure (the full-size models take
// minutes): every required key is there and the FLOPs add up. One thread: OpenMP threads that
// spin while waiting made this test 20x slower on a machine busy with a build (the binary sets
// OMP_WAIT_POLICY=PASSIVE at start-up; a test process cannot).
TEST(BenchCommand, PrintsJsonWithEveryPart) {
  const int threads = at::get_num_threads();
  for (const std::string arch : {"sd15", "sdxl"}) {
    SCOPED_TRACE(arch);
    const auto run =
        run_cli({"--threads", "1", "bench", "--arch", arch, "--width", "64", "--height", "64",
                 "--steps", "1", "--runs", "1", "--dtype", "bf16", "--json", "--tiny"});
    at::set_num_threads(threads);
    ASSERT_EQ(run.status, 0) << run.err;
    const auto report = nlohmann::json::parse(run.out);
    EXPECT_EQ(report["arch"], arch);
    EXPECT_EQ(report["dtype"], "bf16");
    EXPECT_EQ(report["width"], 64);
    EXPECT_EQ(report["height"], 64);
    EXPECT_EQ(report["threads"], 1);
    for (const char* key : {"bf16_tflops", "fp32_tflops", "conv_bf16_tflops", "conv_fp32_tflops",
                            "matmul_bf16_tflops", "matmul_fp32_tflops"})
      EXPECT_GT(report["ceiling"][key].get<double>(), 0) << key;
    for (const char* part :
         {"text_encode", "unet_step", "unet_cfg_step", "vae_decode", "preview_decode", "image"})
      expect_part(report, part);

    // Guidance doubles the batch, so it doubles the UNet's work.
    EXPECT_EQ(report["unet_cfg_step"]["flops"].get<double>(),
              2 * report["unet_step"]["flops"].get<double>());
    // The image's FLOPs: both prompts, one guided step, one decode.
    EXPECT_DOUBLE_EQ(report["image"]["flops"].get<double>(),
                     2 * report["text_encode"]["flops"].get<double>() +
                         report["unet_cfg_step"]["flops"].get<double>() +
                         report["vae_decode"]["flops"].get<double>());
    EXPECT_GT(report["checkpoint_load"]["bytes"].get<double>(), 0);
    EXPECT_GT(report["checkpoint_load"]["seconds"].get<double>(), 0);
    for (const char* key : {"loaded_rss_bytes", "load_peak_rss_bytes", "peak_rss_bytes"})
      EXPECT_GT(report[key].get<double>(), 0) << key;
    EXPECT_GE(report["peak_rss_bytes"], report["load_peak_rss_bytes"]);
    EXPECT_GE(report["peak_rss_bytes"], report["inference_peak_rss_bytes"]);
    EXPECT_FALSE(report.contains("unet_cfg_step_unfused_attention"));  // only when asked for
    EXPECT_FALSE(report.contains("unet_cfg_step_profile"));
  }
}

// The tiny SD 1.5 bench on one thread, one run of each part and no whole image, with `flag`.
CliRun tiny_sd15_bench_with(const std::string& flag) {
  const int threads = at::get_num_threads();
  auto run =
      run_cli({"--threads", "1", "bench", "--arch", "sd15", "--width", "64", "--height", "64",
               "--steps", "1", "--runs", "1", "--image-runs", "0", "--json", "--tiny", flag});
  at::set_num_threads(threads);
  return run;
}

// --unfused-baseline times the guided step a second time with the unfused attention: the same
// FLOPs (the counter sees the fused kernel's products too), and the ratio of the two times.
TEST(BenchCommand, UnfusedBaselineTimesTheGuidedStepBothWays) {
  const auto run = tiny_sd15_bench_with("--unfused-baseline");
  ASSERT_EQ(run.status, 0) << run.err;
  const auto report = nlohmann::json::parse(run.out);
  expect_part(report, "unet_cfg_step_unfused_attention");
  EXPECT_EQ(report["unet_cfg_step_unfused_attention"]["flops"], report["unet_cfg_step"]["flops"]);
  EXPECT_DOUBLE_EQ(report["fused_attention_speedup"].get<double>(),
                   report["unet_cfg_step_unfused_attention"]["seconds"].get<double>() /
                       report["unet_cfg_step"]["seconds"].get<double>());
}

// --op-profile lists where the guided step's and the decode's time goes, operator by operator:
// the convolutions are there, and the operators' times fit inside the run's.
TEST(BenchCommand, OpProfileListsTheOperatorsOfTheStepAndTheDecode) {
  const auto run = tiny_sd15_bench_with("--op-profile");
  ASSERT_EQ(run.status, 0) << run.err;
  const auto report = nlohmann::json::parse(run.out);
  for (const char* part : {"unet_cfg_step_profile", "vae_decode_profile"}) {
    SCOPED_TRACE(part);
    const auto& profile = report.at(part);
    double in_operators = 0;
    bool has_convolution = false;
    for (const auto& op : profile.at("operators")) {
      EXPECT_GT(op.at("calls").get<int>(), 0);
      in_operators += op.at("seconds").get<double>();
      has_convolution |= op.at("name") == "aten::conv2d";
    }
    EXPECT_TRUE(has_convolution);
    EXPECT_GT(in_operators, 0);
    EXPECT_LE(in_operators, profile.at("seconds").get<double>());
  }
}

TEST(BenchCommand, BadOptionsAreOneErrorLine) {
  const std::vector<std::vector<std::string>> cases = {
      {"bench", "--arch", "sd3"},    {"bench", "--dtype", "fp16"}, {"bench", "--width", "63"},
      {"bench", "--steps", "0"},     {"bench", "--runs", "three"}, {"bench", "--height", "64x"},
      {"bench", "--no-such-option"}, {"bench", "--device", "tpu"},
  };
  for (const auto& args : cases) {
    const auto run = run_cli(args);
    EXPECT_EQ(run.status, 1) << args[1];
    EXPECT_EQ(run.err.rfind("diffusiond: error: bench: ", 0), 0u) << run.err;
    EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
    EXPECT_EQ(run.out, "");
  }
}

}  // namespace
}  // namespace dd::cli
