#pragma once
// The named colours of the scenes: few and far apart in RGB, so a blurred, noisy picture still
// maps each object to the right name.
#include <array>
#include <cstdint>

namespace dd::scenes {

enum class Colour { kRed, kGreen, kBlue, kYellow, kOrange, kPurple, kWhite, kBlack };
constexpr int kColourCount = 8;

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

const char* colour_name(Colour colour);
Rgb colour_rgb(Colour colour);
// The palette colour closest (Euclidean in RGB) to any colour.
Colour nearest_colour(double r, double g, double b);

}  // namespace dd::scenes
