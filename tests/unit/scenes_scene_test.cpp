#include "scenes/scene.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <tuple>

#include "scenes/held_out.h"
#include "scenes/scene_layout.h"
#include "scenes/scene_renderer.h"
#include "util/error.h"

namespace dd::scenes {
namespace {

const uint8_t* pixel(const io::Image& image, double x, double y) {
  const int px = static_cast<int>(x * image.width), py = static_cast<int>(y * image.height);
  return &image.rgb[(static_cast<size_t>(py) * image.width + px) * 3];
}

bool has_colour(const uint8_t* p, Colour colour) {
  const Rgb c = colour_rgb(colour);
  return p[0] == c.r && p[1] == c.g && p[2] == c.b;
}

TEST(Rng, IsSplitMix64) {
  // The published first outputs of SplitMix64 seeded with 1234567.
  Rng rng(1234567);
  EXPECT_EQ(rng.next(), 6457827717110365317ULL);
  EXPECT_EQ(rng.next(), 3203168211198807973ULL);
  for (int i = 0; i < 1000; ++i) {
    const int v = rng.below(7);
    EXPECT_TRUE(v >= 0 && v < 7);
  }
}

TEST(Scene, SameSeedSameSceneAndPixels) {
  for (uint64_t seed : {0ULL, 1ULL, 123456789ULL}) {
    const Scene a = sample_scene(seed), b = sample_scene(seed);
    EXPECT_EQ(a.shape, b.shape);
    EXPECT_EQ(a.position, b.position);
    EXPECT_EQ(render(a).rgb, render(b).rgb);
  }
}

TEST(Scene, PixelsArePinnedAcrossMachines) {
  // Integer PRNG and plain IEEE arithmetic only: these values must hold on every platform
  // (checked with GCC -O0 and -O2).
  const io::Image image = render(sample_scene(7), 64);
  uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a
  for (const uint8_t byte : image.rgb) hash = (hash ^ byte) * 0x100000001b3ULL;
  EXPECT_EQ(hash, 11786793669369586790ULL);
}

TEST(Scene, DifferentSeedsDifferentPictures) {
  // The pixels as strings: GCC 12's C++20 three-way comparison of byte vectors raises a false
  // -Wstringop-overread.
  std::set<std::string> pictures;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    const auto rgb = render(sample_scene(seed)).rgb;
    pictures.emplace(rgb.begin(), rgb.end());
  }
  EXPECT_EQ(pictures.size(), 50u);
}

TEST(Scene, EveryAttributeValueIsReachable) {
  std::set<int> shapes, colours, sizes, positions, counts, backgrounds;
  for (uint64_t seed = 0; seed < 3000; ++seed) {
    const Scene s = sample_scene(seed);
    shapes.insert(static_cast<int>(s.shape));
    colours.insert(static_cast<int>(s.colour));
    sizes.insert(static_cast<int>(s.size));
    positions.insert(static_cast<int>(s.position));
    counts.insert(s.count);
    backgrounds.insert(static_cast<int>(s.background));
    EXPECT_NE(s.background, s.colour);
    EXPECT_EQ(static_cast<int>(s.objects.size()), s.count);
  }
  EXPECT_EQ(shapes.size(), static_cast<size_t>(kShapeCount));
  EXPECT_EQ(colours.size(), static_cast<size_t>(kColourCount));
  EXPECT_EQ(sizes.size(), static_cast<size_t>(kSizeCount));
  EXPECT_EQ(positions.size(), static_cast<size_t>(kPositionCount));
  EXPECT_EQ(counts, (std::set<int>{1, 2, 3}));
  EXPECT_EQ(backgrounds.size(), static_cast<size_t>(kColourCount));
}

TEST(Scene, MaxCountLimitsObjects) {
  for (uint64_t seed = 0; seed < 200; ++seed)
    EXPECT_EQ(sample_scene(seed, {Split::kAll, 1}).count, 1);
  EXPECT_THROW(sample_scene(0, {Split::kAll, 4}), Error);
}

TEST(Scene, ObjectsStayInsideTheImageApartAndInTheirCell) {
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    const Scene s = sample_scene(seed);
    double cx = 0, cy = 0;
    for (size_t i = 0; i < s.objects.size(); ++i) {
      const SceneObject& o = s.objects[i];
      EXPECT_GE(o.left(), 0);
      EXPECT_GE(o.top(), 0);
      EXPECT_LE(o.right(), 1);
      EXPECT_LE(o.bottom(), 1);
      cx += o.cx / s.count;
      cy += o.cy / s.count;
      for (size_t j = 0; j < i; ++j) {
        const SceneObject& p = s.objects[j];
        const bool apart = o.left() > p.right() + 0.03 || p.left() > o.right() + 0.03 ||
                           o.top() > p.bottom() + 0.03 || p.top() > o.bottom() + 0.03;
        EXPECT_TRUE(apart) << "seed " << seed;
      }
    }
    EXPECT_EQ(position_at(cx, cy), s.position) << "seed " << seed;
  }
}

TEST(Render, DrawsTheShapeColourOnTheBackground) {
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const Scene s = sample_scene(seed);
    const io::Image image = render(s, 64);
    ASSERT_EQ(image.width, 64);
    ASSERT_EQ(image.rgb.size(), 64u * 64 * 3);
    // Every shape covers the centre of its box (see shapes.cpp).
    for (const SceneObject& o : s.objects)
      EXPECT_TRUE(has_colour(pixel(image, o.cx, o.cy), s.colour));
    EXPECT_TRUE(has_colour(pixel(image, 0.0, 0.0), s.background) || s.size == Size::kLarge);
    // Pixels a little outside every object's box are pure background.
    int foreground = 0;
    for (int y = 0; y < 64; ++y) {
      for (int x = 0; x < 64; ++x) {
        const double nx = (x + 0.5) / 64, ny = (y + 0.5) / 64;
        bool near_object = false;
        for (const SceneObject& o : s.objects)
          near_object |= nx > o.left() - 0.02 && nx < o.right() + 0.02 && ny > o.top() - 0.02 &&
                         ny < o.bottom() + 0.02;
        const uint8_t* p = &image.rgb[(y * 64 + x) * 3];
        if (!near_object) {
          EXPECT_TRUE(has_colour(p, s.background));
        }
        foreground += has_colour(p, s.colour);
      }
    }
    EXPECT_GT(foreground, 20 * s.count);
  }
}

TEST(Render, CentroidOfShapePixelsIsInTheNamedCell) {
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const Scene s = sample_scene(seed);
    const io::Image image = render(s, 96);
    double sx = 0, sy = 0, n = 0;
    for (int y = 0; y < 96; ++y)
      for (int x = 0; x < 96; ++x)
        if (has_colour(&image.rgb[(y * 96 + x) * 3], s.colour)) sx += x + 0.5, sy += y + 0.5, ++n;
    ASSERT_GT(n, 0);
    EXPECT_EQ(position_at(sx / n / 96, sy / n / 96), s.position) << "seed " << seed;
  }
}

TEST(Render, AcceptsOnlyMultiplesOfEightFrom32To256) {
  const Scene s = sample_scene(5);
  for (int size : {32, 40, 64, 128, 256}) EXPECT_EQ(render(s, size).width, size);
  for (int size : {0, 24, 60, 264, 512}) EXPECT_THROW(render(s, size), Error);
}

using Combination = std::tuple<int, int, int>;

std::set<Combination> combinations(bool held_out) {
  std::set<Combination> out;
  for (int s = 0; s < kShapeCount; ++s)
    for (int c = 0; c < kColourCount; ++c)
      for (int p = 0; p < kPositionCount; ++p)
        if (is_held_out(Shape(s), Colour(c), Position(p)) == held_out) out.insert({s, c, p});
  return out;
}

TEST(HeldOut, HoldsOutAboutFifteenPercent) {
  const size_t total = kShapeCount * kColourCount * kPositionCount;
  const size_t held = combinations(true).size();
  EXPECT_GT(held, total * 10 / 100);
  EXPECT_LT(held, total * 20 / 100);
}

TEST(HeldOut, EverySingleValueAppearsInTraining) {
  std::set<int> shapes, colours, positions;
  for (const auto& [s, c, p] : combinations(false)) {
    shapes.insert(s);
    colours.insert(c);
    positions.insert(p);
  }
  EXPECT_EQ(shapes.size(), static_cast<size_t>(kShapeCount));
  EXPECT_EQ(colours.size(), static_cast<size_t>(kColourCount));
  EXPECT_EQ(positions.size(), static_cast<size_t>(kPositionCount));
}

TEST(HeldOut, SamplersStayOnTheirSideAndCoverIt) {
  std::set<Combination> seen_training, seen_held_out;
  for (uint64_t seed = 0; seed < 4000; ++seed) {
    const Scene t = sample_training_scene(seed);
    EXPECT_FALSE(is_held_out(t.shape, t.colour, t.position));
    seen_training.insert({int(t.shape), int(t.colour), int(t.position)});
    const Scene h = sample_held_out_scene(seed);
    EXPECT_TRUE(is_held_out(h.shape, h.colour, h.position));
    seen_held_out.insert({int(h.shape), int(h.colour), int(h.position)});
  }
  // Disjoint by the checks above; every held-out combination is drawn by its sampler.
  EXPECT_EQ(seen_held_out, combinations(true));
  EXPECT_GT(seen_training.size(), combinations(false).size() * 95 / 100);
}

TEST(HeldOut, SplitIsPinned) {
  // The split must never drift: a model trained on one split is evaluated on the same one.
  EXPECT_EQ(combinations(true).size(), 77u);
  EXPECT_TRUE(is_held_out(Shape::kCircle, Colour::kRed, Position::kBottomRight));
  EXPECT_TRUE(is_held_out(Shape::kCircle, Colour::kGreen, Position::kTopLeft));
  EXPECT_FALSE(is_held_out(Shape::kCircle, Colour::kRed, Position::kCentre));
}

}  // namespace
}  // namespace dd::scenes
