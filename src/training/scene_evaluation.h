#pragma once
// How well a text-to-image generator draws what it is told: it is asked for held-out scenes
// (shape, colour, position combinations no training scene has) by their full captions, and the
// classical grader of scenes/scene_analysis.h checks each picture against the scene. The core
// knows nothing of models: any function from (prompt, seed) to an image can be graded, so a
// test can grade a perfect or a broken generator without training anything.
#include <array>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "io/image.h"
#include "scenes/scene.h"

namespace dd::training {

// The generator under test. It is called with the seed of the scene it should draw, so a test
// generator can rebuild the true scene (evaluation_scene_for_seed) without parsing the prompt.
using SceneGenerator = std::function<io::Image(const std::string& prompt, uint64_t seed)>;

constexpr int kMaxEvaluationCount = 100000;

struct EvaluationOptions {
  uint64_t seed = 0;  // picks the scenes (and the generator's seeds)
  int count = 100;    // scenes, 1..kMaxEvaluationCount
};

// Right answers out of tries.
struct Tally {
  int correct = 0;
  int total = 0;
  void add(bool right);
  double percent() const;  // 0 when there were no tries
};

struct EvaluationReport {
  uint64_t seed = 0;
  int count = 0;
  // Per attribute, over every scene.
  Tally colour, shape, position, background, object_count, size, all;
  // How often the attribute was right, split by its true value (e.g. the shape tally of the
  // scenes that really showed stars).
  std::array<Tally, scenes::kShapeCount> shape_by_shape;
  std::array<Tally, scenes::kColourCount> colour_by_colour;
  std::array<Tally, scenes::kPositionCount> position_by_position;
};

// The i-th scene (0-based) of an evaluation with this seed, and the seed it is drawn from (also
// the seed the generator gets). Scene seeds fit in 32 bits so any image can be remade with
// `diffusiond generate --seed`.
uint64_t evaluation_scene_seed(uint64_t seed, int index);
scenes::Scene evaluation_scene_for_seed(uint64_t scene_seed);

// Grades `generate` on options.count held-out scenes. `progress` (optional) is told after each
// scene. A dd::Error for a bad count or an image the generator returns malformed.
EvaluationReport evaluate_scenes(const SceneGenerator& generate, const EvaluationOptions& options,
                                 const std::function<void(int done, int total)>& progress = {});

// The report as tables (attributes, then the breakdowns) ending with the summary line.
void print_report(const EvaluationReport& report, std::ostream& out);
// "colour X%, shape Y%, position Z%" (one decimal).
std::string summary_line(const EvaluationReport& report);
nlohmann::json report_json(const EvaluationReport& report);

}  // namespace dd::training
