#include "scenes/caption.h"

#include <algorithm>
#include <array>
#include <set>
#include <sstream>

#include "scenes/rng.h"

namespace dd::scenes {
namespace {

// Templates over four slots; the background slot already carries its article.
constexpr std::array<const char*, 4> kTemplates = {
    "{objects} {position} on {background} background",
    "{objects} on {background} background {position}",
    "{background} background with {objects} {position}",
    "{objects} {position}",
};
constexpr const char* kCountWords[] = {"", "two", "three"};

// Synonyms per position; the first is the canonical one.
std::vector<std::string> position_phrases(Position position) {
  switch (position) {
    case Position::kCentre:
      return {"in the centre", "in the center", "in the middle"};
    case Position::kLeft:
      return {"on the left"};
    case Position::kRight:
      return {"on the right"};
    case Position::kTop:
      return {"at the top"};
    case Position::kBottom:
      return {"at the bottom"};
    default:  // corners
      return {std::string("in the ") + position_name(position) + " corner",
              std::string("at the ") + position_name(position)};
  }
}

std::string with_article(const std::string& phrase) {
  const bool vowel = std::string("aeiou").find(phrase[0]) != std::string::npos;
  return (vowel ? "an " : "a ") + phrase;
}

std::string objects_phrase(const Scene& scene) {
  const std::string described =
      std::string(size_name(scene.size)) + " " + colour_name(scene.colour) + " " +
      (scene.count == 1 ? shape_name(scene.shape) : shape_plural(scene.shape));
  if (scene.count == 1) return with_article(described);
  return std::string(kCountWords[scene.count - 1]) + " " + described;
}

void replace(std::string& text, const std::string& slot, const std::string& value) {
  const size_t at = text.find(slot);
  if (at != std::string::npos) text.replace(at, slot.size(), value);
}

std::string fill(const char* pattern, const Scene& scene, const std::string& position) {
  std::string text = pattern;
  replace(text, "{objects}", objects_phrase(scene));
  replace(text, "{position}", position);
  replace(text, "{background}", with_article(colour_name(scene.background)));
  return text;
}

void add_words(const std::string& text, std::set<std::string>& words) {
  std::istringstream in(text);
  for (std::string word; in >> word;)
    if (word.front() != '{') words.insert(word);
}

}  // namespace

std::string caption(const Scene& scene, uint64_t seed) {
  // Salted so caption choices are not correlated with the scene drawn from the same seed.
  Rng rng(seed ^ 0x63617074696f6eULL);
  const char* pattern = kTemplates[rng.below(static_cast<int>(kTemplates.size()))];
  const std::vector<std::string> phrases = position_phrases(scene.position);
  return fill(pattern, scene, phrases[rng.below(static_cast<int>(phrases.size()))]);
}

std::string full_caption(const Scene& scene) {
  return fill(kTemplates[0], scene, position_phrases(scene.position)[0]);
}

std::vector<std::string> caption_vocabulary() {
  std::set<std::string> words = {"a", "an", "two", "three"};
  for (const char* pattern : kTemplates) add_words(pattern, words);
  for (int i = 0; i < kShapeCount; ++i) {
    words.insert(shape_name(static_cast<Shape>(i)));
    words.insert(shape_plural(static_cast<Shape>(i)));
  }
  for (int i = 0; i < kColourCount; ++i) words.insert(colour_name(static_cast<Colour>(i)));
  for (int i = 0; i < kSizeCount; ++i) words.insert(size_name(static_cast<Size>(i)));
  for (int i = 0; i < kPositionCount; ++i)
    for (const std::string& phrase : position_phrases(static_cast<Position>(i)))
      add_words(phrase, words);
  return {words.begin(), words.end()};
}

}  // namespace dd::scenes
