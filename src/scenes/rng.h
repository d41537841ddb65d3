#pragma once
// SplitMix64: a tiny PRNG whose output is fixed by its definition, so a seed gives the same
// scene on every machine and compiler (std::uniform_*_distribution is implementation-defined).
#include <cstdint>

namespace dd::scenes {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // An integer in [0, n), by multiply-shift on the high 32 bits (bias below 2^-32 * n).
  int below(int n) { return static_cast<int>(((next() >> 32) * static_cast<uint64_t>(n)) >> 32); }

  // A double in [lo, hi), from the top 53 bits.
  double uniform(double lo, double hi) {
    return lo + (hi - lo) * static_cast<double>(next() >> 11) * 0x1.0p-53;
  }

 private:
  uint64_t state_;
};

}  // namespace dd::scenes
