#include "scenes/palette.h"

#include <limits>

namespace dd::scenes {
namespace {

struct Entry {
  const char* name;
  Rgb rgb;
};

// Chosen so every pair is at least ~95 apart in RGB (yellow/orange is the closest pair).
constexpr std::array<Entry, kColourCount> kPalette = {{
    {"red", {215, 25, 35}},
    {"green", {30, 165, 55}},
    {"blue", {35, 70, 215}},
    {"yellow", {250, 225, 40}},
    {"orange", {245, 130, 20}},
    {"purple", {130, 40, 170}},
    {"white", {245, 245, 245}},
    {"black", {25, 25, 25}},
}};

}  // namespace

const char* colour_name(Colour colour) { return kPalette[static_cast<int>(colour)].name; }

Rgb colour_rgb(Colour colour) { return kPalette[static_cast<int>(colour)].rgb; }

Colour nearest_colour(double r, double g, double b) {
  Colour best = Colour::kRed;
  double best_distance = std::numeric_limits<double>::max();
  for (int i = 0; i < kColourCount; ++i) {
    const Rgb c = kPalette[i].rgb;
    const double dr = r - c.r, dg = g - c.g, db = b - c.b;
    const double distance = dr * dr + dg * dg + db * db;
    if (distance < best_distance) {
      best_distance = distance;
      best = static_cast<Colour>(i);
    }
  }
  return best;
}

}  // namespace dd::scenes
