// Scene evaluation with stand-in generators: one that draws the true scene must score full
// marks, one that always draws the same wrong scene must not, and the scenes asked for depend
// only on the seed.
#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <vector>

#include "scenes/caption.h"
#include "scenes/scene_renderer.h"
#include "training/scene_evaluation.h"
#include "util/error.h"

namespace dd::training {
namespace {

EvaluationOptions options(uint64_t seed, int count) {
  EvaluationOptions result;
  result.seed = seed;
  result.count = count;
  return result;
}

// Draws the scene the evaluation asks for, rebuilt from the seed it passes (no prompt parsing).
io::Image true_scene(const std::string&, uint64_t seed) {
  return scenes::render(evaluation_scene_for_seed(seed), 64);
}

// The prompts asked for, in order.
std::vector<std::string> prompts_for(const EvaluationOptions& options) {
  std::vector<std::string> prompts;
  evaluate_scenes(
      [&](const std::string& prompt, uint64_t seed) {
        prompts.push_back(prompt);
        return true_scene(prompt, seed);
      },
      options);
  return prompts;
}

TEST(SceneEvaluation, TheTrueSceneScoresFullMarks) {
  const auto report = evaluate_scenes(true_scene, options(0, 100));
  EXPECT_EQ(report.count, 100);
  // The grader reads clean renderings of these scenes perfectly (it is ~99% on random ones).
  EXPECT_EQ(report.colour.correct, 100);
  EXPECT_EQ(report.shape.correct, 100);
  EXPECT_EQ(report.position.correct, 100);
  EXPECT_GE(report.all.percent(), 95.0);
  EXPECT_EQ(summary_line(report), "colour 100.0%, shape 100.0%, position 100.0%");
}

TEST(SceneEvaluation, AFixedWrongSceneScoresLow) {
  scenes::Scene fixed = scenes::sample_training_scene(7);
  const io::Image picture = scenes::render(fixed, 64);
  const auto report =
      evaluate_scenes([&](const std::string&, uint64_t) { return picture; }, options(0, 100));
  // Chance level is 1/7 for shape, 1/8 for colour, 1/9 for position.
  EXPECT_LT(report.colour.percent(), 40.0);
  EXPECT_LT(report.shape.percent(), 40.0);
  EXPECT_LT(report.position.percent(), 40.0);
  EXPECT_LT(report.all.percent(), 10.0);
}

TEST(SceneEvaluation, TheScenesDependOnlyOnTheSeed) {
  const auto first = prompts_for(options(3, 20));
  EXPECT_EQ(first, prompts_for(options(3, 20)));
  const auto other = prompts_for(options(4, 20));
  EXPECT_NE(first, other);
  ASSERT_EQ(first.size(), 20u);
  // The prompt is the scene's full caption, and the scenes vary within one run.
  EXPECT_EQ(first[0], scenes::full_caption(evaluation_scene_for_seed(evaluation_scene_seed(3, 0))));
  EXPECT_NE(first[0], first[1]);
}

TEST(SceneEvaluation, GeneratorSeedsFitTheCommandLine) {
  for (int i = 0; i < 50; ++i) EXPECT_LE(evaluation_scene_seed(12345, i), 0xffffffffULL);
  EXPECT_NE(evaluation_scene_seed(0, 0), evaluation_scene_seed(1, 0));
  EXPECT_NE(evaluation_scene_seed(0, 0), evaluation_scene_seed(0, 1));
}

TEST(SceneEvaluation, RejectsABadCountBeforeGenerating) {
  int calls = 0;
  const SceneGenerator counting = [&](const std::string& prompt, uint64_t seed) {
    ++calls;
    return true_scene(prompt, seed);
  };
  for (const int count : {0, -1, kMaxEvaluationCount + 1})
    EXPECT_THROW(evaluate_scenes(counting, options(0, count)), Error) << count;
  EXPECT_EQ(calls, 0);
}

TEST(SceneEvaluation, RejectsAMalformedImage) {
  const auto empty = [](const std::string&, uint64_t) { return io::Image{}; };
  EXPECT_THROW(evaluate_scenes(empty, options(0, 1)), Error);
  const auto short_pixels = [](const std::string&, uint64_t) {
    return io::Image{64, 64, std::vector<uint8_t>(10)};
  };
  EXPECT_THROW(evaluate_scenes(short_pixels, options(0, 1)), Error);
}

TEST(SceneEvaluation, BreakdownsCoverEveryScene) {
  const auto report = evaluate_scenes(true_scene, options(1, 40));
  int shapes = 0, colours = 0, positions = 0;
  for (const auto& tally : report.shape_by_shape) shapes += tally.total;
  for (const auto& tally : report.colour_by_colour) colours += tally.total;
  for (const auto& tally : report.position_by_position) positions += tally.total;
  EXPECT_EQ(shapes, 40);
  EXPECT_EQ(colours, 40);
  EXPECT_EQ(positions, 40);
  for (const Tally* tally : {&report.background, &report.object_count, &report.size})
    EXPECT_EQ(tally->total, 40);
}

TEST(SceneEvaluation, TheTableEndsWithTheSummaryLine) {
  const auto report = evaluate_scenes(true_scene, options(2, 10));
  std::ostringstream out;
  print_report(report, out);
  const std::string text = out.str();
  EXPECT_NE(text.find("background"), std::string::npos) << text;
  EXPECT_NE(text.find("by true shape"), std::string::npos) << text;
  const std::string last = text.substr(text.rfind('\n', text.size() - 2) + 1);
  EXPECT_TRUE(
      std::regex_match(last, std::regex(R"(colour \d+\.\d%, shape \d+\.\d%, position \d+\.\d%\n)")))
      << last;
  const auto json = report_json(report);
  EXPECT_EQ(json["count"], 10);
  EXPECT_EQ(json["accuracy"]["colour"]["total"], 10);
  EXPECT_EQ(json["summary"], summary_line(report));
}

}  // namespace
}  // namespace dd::training
