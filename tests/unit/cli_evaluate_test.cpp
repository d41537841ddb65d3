// `diffusiond evaluate`: argument errors end with exit status 1 before any model loads; a run on
// the tiny fixture model and on the built-in model prints the table and the summary line.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "cli/main.h"
#include "cli/model_choice.h"
#include "service/crypto.h"
#include "test_support.h"

namespace dd::cli {
namespace {

namespace fs = std::filesystem;

// One compute thread: a test process cannot make OpenMP wait passively as the binary does, and
// two threads spinning on a busy machine slow a run down many times.
int run_cli(std::vector<std::string> args) {
  args.insert(args.begin(), {"diffusiond", "--threads", "1"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return run(static_cast<int>(argv.size()), argv.data());
}

// The exit status and what went to stdout.
std::pair<int, std::string> run_capturing(const std::vector<std::string>& args) {
  testing::internal::CaptureStdout();
  const int code = run_cli(args);
  return {code, testing::internal::GetCapturedStdout()};
}

const std::regex kSummary(R"((^|\n)colour \d+\.\d%, shape \d+\.\d%, position \d+\.\d%\n$)");

TEST(Evaluate, RejectsBadArguments) {
  const auto empty_dir = fs::temp_directory_path() / ("dd_eval_empty_" + service::random_hex(6));
  fs::create_directories(empty_dir);
  const std::vector<std::vector<std::string>> cases = {
      {"evaluate", "--count", "0"},
      {"evaluate", "--count", "many"},
      {"evaluate", "--steps", "0"},
      {"evaluate", "--seed", "-1"},
      {"evaluate", "--cfg", "-2"},
      {"evaluate", "--dtype", "fp16"},
      {"evaluate", "--sampler", "nope"},
      {"evaluate", "--model", "/nonexistent/model"},
      {"evaluate", "--model", "no-such-model", "--models-dir", empty_dir.string()},
      // No --model and no built-in model in that folder.
      {"evaluate", "--models-dir", empty_dir.string()},
      {"evaluate", "--models-dir", "/nonexistent/models", "--model", "x"},
      {"evaluate", "unexpected"},
  };
  for (const auto& args : cases) {
    const auto [code, out] = run_capturing(args);
    EXPECT_NE(code, 0) << args[1] << " " << args.back();
    EXPECT_EQ(out, "") << args[1] << " " << args.back();
  }
  fs::remove_all(empty_dir);
}

TEST(Evaluate, GradesTheTinyFixtureModel) {
  DD_REQUIRE_FIXTURES();
  const std::string model = test::fixtures().model_path("sd15-tiny", "diffusers_dir");
  const auto [code, out] =
      run_capturing({"evaluate", "--model", model, "--count", "3", "--steps", "2", "--seed", "5"});
  ASSERT_EQ(code, 0);
  EXPECT_NE(out.find("held-out scenes: 3 (seed 5)"), std::string::npos) << out;
  EXPECT_NE(out.find("background"), std::string::npos) << out;
  EXPECT_TRUE(std::regex_search(out, kSummary)) << out;

  const auto [json_code, json_out] =
      run_capturing({"evaluate", "--model", model, "--count", "2", "--steps", "2", "--json"});
  ASSERT_EQ(json_code, 0);
  const auto json = nlohmann::json::parse(json_out);
  EXPECT_EQ(json["count"], 2);
  EXPECT_EQ(json["accuracy"]["shape"]["total"], 2);
  EXPECT_EQ(json["model"], "sd15-tiny");
}

TEST(Evaluate, GradesTheBuiltInModel) {
  if (!has_builtin_model(builtin_models_dir()))
    GTEST_SKIP() << "no built-in model " << kBuiltinModelId << " in " << builtin_models_dir()
                 << " (train it with `diffusiond train`)";
  const auto [code, out] = run_capturing({"evaluate", "--count", "10"});
  ASSERT_EQ(code, 0);
  EXPECT_NE(out.find(std::string("model: ") + kBuiltinModelId), std::string::npos) << out;
  EXPECT_NE(out.find("held-out scenes: 10 (seed 0)"), std::string::npos) << out;
  EXPECT_TRUE(std::regex_search(out, kSummary)) << out;
}

TEST(Evaluate, GradesTheBuiltInModelsVaeAlone) {
  if (!has_builtin_model(builtin_models_dir()))
    GTEST_SKIP() << "no built-in model " << kBuiltinModelId << " in " << builtin_models_dir();
  const auto [code, out] =
      run_capturing({"evaluate", "--vae-round-trip", "--count", "5", "--json"});
  ASSERT_EQ(code, 0);
  const auto json = nlohmann::json::parse(out);
  EXPECT_EQ(json["accuracy"]["colour"]["total"], 5);
  // The true scene passes only the VAE, so where it is placed survives.
  EXPECT_GE(json["accuracy"]["position"]["correct"].get<int>(), 4) << out;
}

}  // namespace
}  // namespace dd::cli
