#include <gtest/gtest.h>

#include <cstdio>

#include "scenes/scene_analysis.h"
#include "scenes/scene_renderer.h"
#include "scenes/segmentation.h"
#include "scenes/shape_classifier.h"
#include "scenes_degrade.h"

namespace dd::scenes {
namespace {

struct Accuracy {
  int n = 0, background = 0, count = 0, shape = 0, colour = 0, size = 0, position = 0;
  void add(const SceneScore& s) {
    ++n;
    background += s.background;
    count += s.count;
    shape += s.shape;
    colour += s.colour;
    size += s.size;
    position += s.position;
  }
  double of(int correct) const { return static_cast<double>(correct) / n; }
  void print(const char* what) const {
    std::printf(
        "[ scenes   ] %s, %d scenes: background %.3f count %.3f shape %.3f colour %.3f size %.3f "
        "position %.3f\n",
        what, n, of(background), of(count), of(shape), of(colour), of(size), of(position));
  }
};

constexpr int kScenes = 500;

template <typename Degrade>
Accuracy measure(int size, Degrade degrade) {
  Accuracy accuracy;
  for (int seed = 0; seed < kScenes; ++seed) {
    const Scene scene = sample_scene(1000 + seed);
    accuracy.add(score(analyse(degrade(render(scene, size), seed)), scene));
  }
  return accuracy;
}

void expect_at_least(const Accuracy& a, double bar) {
  EXPECT_GE(a.of(a.shape), bar);
  EXPECT_GE(a.of(a.colour), bar);
  EXPECT_GE(a.of(a.position), bar);
  EXPECT_GE(a.of(a.count), bar);
  EXPECT_GE(a.of(a.background), bar);
  EXPECT_GE(a.of(a.size), bar);
}

TEST(SceneAnalysis, GradesCleanRenderings) {
  const Accuracy a = measure(64, [](io::Image image, int) { return image; });
  a.print("clean 64x64");
  expect_at_least(a, 0.98);
}

TEST(SceneAnalysis, GradesBlurredNoisyRenderings) {
  const Accuracy a =
      measure(64, [](const io::Image& image, int seed) { return test::degrade(image, 77 + seed); });
  a.print("blurred twice + noise sigma 10, 64x64");
  expect_at_least(a, 0.90);
}

TEST(SceneAnalysis, GradesOtherSizes) {
  for (const int size : {32, 128}) {
    Accuracy a;
    for (int seed = 0; seed < 100; ++seed) {
      const Scene scene = sample_scene(5000 + seed);
      a.add(score(analyse(render(scene, size)), scene));
    }
    a.print(size == 32 ? "clean 32x32" : "clean 128x128");
    EXPECT_GE(a.of(a.colour), 0.9);
    EXPECT_GE(a.of(a.position), 0.9);
  }
}

TEST(SceneAnalysis, FindsNothingOnAPlainPicture) {
  Scene empty;
  empty.background = Colour::kBlue;
  const io::Image image = test::add_noise(render(empty, 64), 10.0, 3);
  const SceneAnalysis analysis = analyse(image);
  EXPECT_EQ(analysis.count, 0);
  EXPECT_EQ(analysis.background, Colour::kBlue);
  const SceneScore s = score(analysis, sample_scene(1));
  EXPECT_FALSE(s.shape || s.colour || s.position || s.size);
}

TEST(SceneAnalysis, ScoresAWrongPictureAsWrong) {
  Scene truth = sample_scene(42, {Split::kAll, 1});
  Scene other = truth;
  other.colour = truth.colour == Colour::kRed ? Colour::kGreen : Colour::kRed;
  other.background = truth.background == Colour::kBlack ? Colour::kWhite : Colour::kBlack;
  if (other.background == other.colour) other.background = Colour::kYellow;
  const SceneScore s = score(analyse(render(other)), truth);
  EXPECT_FALSE(s.colour);
  EXPECT_TRUE(s.shape);
  EXPECT_TRUE(s.position);
  EXPECT_FALSE(s.all());
}

TEST(ShapeClassifier, EachShapeFitsItsOwnTemplateBest) {
  for (int i = 0; i < kShapeCount; ++i) {
    Scene scene;
    scene.shape = static_cast<Shape>(i);
    scene.colour = Colour::kBlack;
    scene.objects = {{0.5, 0.5, 0.3}};
    for (const bool degraded : {false, true}) {
      const io::Image clean = render(scene, 128);
      const io::Image image = degraded ? test::degrade(clean, 5) : clean;
      const Segmentation seg = segment(image);
      ASSERT_EQ(seg.components.size(), 1u) << shape_name(scene.shape);
      EXPECT_LT(shape_residual(image, seg, 0, scene.shape), 0.05) << shape_name(scene.shape);
      EXPECT_EQ(classify_shape(image, seg, 0), scene.shape);
    }
  }
}

}  // namespace
}  // namespace dd::scenes
