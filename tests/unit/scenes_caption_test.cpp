#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "scenes/caption.h"

namespace dd::scenes {
namespace {

std::vector<std::string> words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Caption, SameSeedSameCaptionAndTemplatesVary) {
  const Scene scene = sample_scene(9);
  std::set<std::string> variants;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    EXPECT_EQ(caption(scene, seed), caption(scene, seed));
    variants.insert(caption(scene, seed));
  }
  EXPECT_GE(variants.size(), 4u);
}

TEST(Caption, IsPinned) {
  EXPECT_EQ(caption(sample_scene(7), 7),
            "a yellow background with a small red triangle at the bottom right");
  EXPECT_EQ(caption(sample_scene(8), 8),
            "a large orange cross on a blue background in the top right corner");
}

TEST(Caption, NamesTheAttributes) {
  for (uint64_t seed = 0; seed < 500; ++seed) {
    const Scene s = sample_scene(seed);
    const std::string text = caption(s, seed);
    EXPECT_TRUE(contains(text, colour_name(s.colour))) << text;
    EXPECT_TRUE(contains(text, size_name(s.size))) << text;
    EXPECT_TRUE(contains(text, s.count == 1 ? shape_name(s.shape) : shape_plural(s.shape))) << text;
    EXPECT_EQ(text.find("  "), std::string::npos) << text;
    EXPECT_EQ(text.find('{'), std::string::npos) << text;
  }
}

TEST(Caption, FullCaptionExamples) {
  Scene s;
  s.shape = Shape::kStar;
  s.colour = Colour::kYellow;
  s.size = Size::kSmall;
  s.position = Position::kTop;
  s.count = 2;
  s.background = Colour::kBlue;
  EXPECT_EQ(full_caption(s), "two small yellow stars at the top on a blue background");
  s.count = 1;
  s.size = Size::kLarge;
  s.position = Position::kBottomLeft;
  s.background = Colour::kOrange;
  EXPECT_EQ(full_caption(s),
            "a large yellow star in the bottom left corner on an orange background");
}

TEST(Caption, VocabularyCoversEveryCaptionAndNothingElse) {
  const std::vector<std::string> vocabulary = caption_vocabulary();
  EXPECT_TRUE(std::is_sorted(vocabulary.begin(), vocabulary.end()));
  const std::set<std::string> known(vocabulary.begin(), vocabulary.end());
  EXPECT_EQ(known.size(), vocabulary.size());
  std::set<std::string> used;
  for (uint64_t seed = 0; seed < 5000; ++seed) {
    for (const std::string& w : words(caption(sample_scene(seed), seed))) {
      EXPECT_TRUE(known.count(w)) << w;
      used.insert(w);
    }
  }
  EXPECT_EQ(used, known);
  std::printf("[ scenes   ] caption vocabulary: %zu words\n", vocabulary.size());
}

}  // namespace
}  // namespace dd::scenes
