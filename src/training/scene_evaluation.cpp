#include "training/scene_evaluation.h"

#include <cstdio>

#include "scenes/caption.h"
#include "scenes/rng.h"
#include "scenes/scene_analysis.h"
#include "util/error.h"

namespace dd::training {

namespace {

void check_options(const EvaluationOptions& options) {
  if (options.count < 1 || options.count > kMaxEvaluationCount)
    throw Error("evaluation: count must be between 1 and " + std::to_string(kMaxEvaluationCount) +
                ", got " + std::to_string(options.count));
}

// A generator that returns a malformed image is a bug worth naming, not a picture to grade.
void check_image(const io::Image& image, int index) {
  const bool sized = image.width > 0 && image.height > 0 &&
                     image.rgb.size() == static_cast<size_t>(image.width) * image.height * 3;
  if (!sized)
    throw Error("evaluation: the generator returned an empty or malformed image for scene " +
                std::to_string(index) + " (" + std::to_string(image.width) + "x" +
                std::to_string(image.height) + ", " + std::to_string(image.rgb.size()) + " bytes)");
}

void add_score(EvaluationReport& report, const scenes::Scene& truth,
               const scenes::SceneScore& score) {
  report.colour.add(score.colour);
  report.shape.add(score.shape);
  report.position.add(score.position);
  report.background.add(score.background);
  report.object_count.add(score.count);
  report.size.add(score.size);
  report.all.add(score.all());
  report.shape_by_shape[static_cast<int>(truth.shape)].add(score.shape);
  report.colour_by_colour[static_cast<int>(truth.colour)].add(score.colour);
  report.position_by_position[static_cast<int>(truth.position)].add(score.position);
}

std::string percent_text(const Tally& tally) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f%%", tally.percent());
  return text;
}

// Columns: name, right/total, percentage.
void print_columns(std::ostream& out, const std::string& name, const std::string& correct,
                   const std::string& percent) {
  char line[128];
  std::snprintf(line, sizeof line, "  %-14s %13s %9s\n", name.c_str(), correct.c_str(),
                percent.c_str());
  out << line;
}

void print_row(std::ostream& out, const std::string& name, const Tally& tally) {
  print_columns(out, name, std::to_string(tally.correct) + "/" + std::to_string(tally.total),
                percent_text(tally));
}

// One breakdown table: the rows of the values that occurred (a small run may miss some).
template <size_t N, typename Value>
void print_breakdown(std::ostream& out, const std::string& title,
                     const std::array<Tally, N>& tallies, const char* (*name)(Value)) {
  out << title << "\n";
  for (size_t i = 0; i < N; ++i)
    if (tallies[i].total > 0) print_row(out, name(static_cast<Value>(i)), tallies[i]);
}

nlohmann::json tally_json(const Tally& tally) {
  return {{"correct", tally.correct}, {"total", tally.total}, {"percent", tally.percent()}};
}

template <size_t N, typename Value>
nlohmann::json breakdown_json(const std::array<Tally, N>& tallies, const char* (*name)(Value)) {
  nlohmann::json rows = nlohmann::json::object();
  for (size_t i = 0; i < N; ++i)
    if (tallies[i].total > 0) rows[name(static_cast<Value>(i))] = tally_json(tallies[i]);
  return rows;
}

}  // namespace

void Tally::add(bool right) {
  ++total;
  correct += right ? 1 : 0;
}

double Tally::percent() const { return total == 0 ? 0.0 : 100.0 * correct / total; }

uint64_t evaluation_scene_seed(uint64_t seed, int index) {
  // Hash (seed, index) so that nearby evaluation seeds do not share scenes.
  const uint64_t base = scenes::Rng(seed).next();
  return scenes::Rng(base + static_cast<uint64_t>(index)).next() & 0xffffffffULL;
}

scenes::Scene evaluation_scene_for_seed(uint64_t scene_seed) {
  return scenes::sample_held_out_scene(scene_seed);
}

EvaluationReport evaluate_scenes(const SceneGenerator& generate, const EvaluationOptions& options,
                                 const std::function<void(int done, int total)>& progress) {
  check_options(options);
  EvaluationReport report;
  report.seed = options.seed;
  report.count = options.count;
  for (int i = 0; i < options.count; ++i) {
    const uint64_t scene_seed = evaluation_scene_seed(options.seed, i);
    const scenes::Scene truth = evaluation_scene_for_seed(scene_seed);
    const io::Image image = generate(scenes::full_caption(truth), scene_seed);
    check_image(image, i);
    add_score(report, truth, scenes::score(scenes::analyse(image), truth));
    if (progress) progress(i + 1, options.count);
  }
  return report;
}

std::string summary_line(const EvaluationReport& report) {
  return "colour " + percent_text(report.colour) + ", shape " + percent_text(report.shape) +
         ", position " + percent_text(report.position);
}

void print_report(const EvaluationReport& report, std::ostream& out) {
  out << "held-out scenes: " << report.count << " (seed " << report.seed << ")\n";
  print_columns(out, "attribute", "right/total", "accuracy");
  print_row(out, "colour", report.colour);
  print_row(out, "shape", report.shape);
  print_row(out, "position", report.position);
  print_row(out, "background", report.background);
  print_row(out, "count", report.object_count);
  print_row(out, "size", report.size);
  print_row(out, "all six", report.all);
  print_breakdown(out, "shape right, by true shape", report.shape_by_shape, scenes::shape_name);
  print_breakdown(out, "colour right, by true colour", report.colour_by_colour,
                  scenes::colour_name);
  print_breakdown(out, "position right, by true position", report.position_by_position,
                  scenes::position_name);
  out << summary_line(report) << "\n";
}

nlohmann::json report_json(const EvaluationReport& report) {
  return {
      {"seed", report.seed},
      {"count", report.count},
      {"accuracy",
       {{"colour", tally_json(report.colour)},
        {"shape", tally_json(report.shape)},
        {"position", tally_json(report.position)},
        {"background", tally_json(report.background)},
        {"count", tally_json(report.object_count)},
        {"size", tally_json(report.size)},
        {"all", tally_json(report.all)}}},
      {"shape_by_shape", breakdown_json(report.shape_by_shape, scenes::shape_name)},
      {"colour_by_colour", breakdown_json(report.colour_by_colour, scenes::colour_name)},
      {"position_by_position", breakdown_json(report.position_by_position, scenes::position_name)},
      {"summary", summary_line(report)}};
}

}  // namespace dd::training
