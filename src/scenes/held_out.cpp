#include "scenes/held_out.h"

#include <cstdint>
#include <string>

namespace dd::scenes {
namespace {

// FNV-1a over the names, so the split survives reordering the enums.
uint64_t name_hash(const std::string& text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (const unsigned char c : text) hash = (hash ^ c) * 0x100000001b3ULL;
  // A final avalanche so the low digits used below are well mixed.
  hash = (hash ^ (hash >> 33)) * 0xff51afd7ed558ccdULL;
  return hash ^ (hash >> 33);
}

// Combinations on this diagonal are always trained on. Every shape, colour and position value
// has some combination on it, so each single value is guaranteed to be seen in training.
bool on_training_diagonal(Shape shape, Colour colour, Position position) {
  return (static_cast<int>(shape) + static_cast<int>(colour) + static_cast<int>(position)) % 5 == 0;
}

// Off the diagonal (~80% of combinations) hold out ~19%, i.e. ~15% overall.
constexpr uint64_t kHeldOutPerMille = 190;

}  // namespace

bool is_held_out(Shape shape, Colour colour, Position position) {
  if (on_training_diagonal(shape, colour, position)) return false;
  const std::string key =
      std::string(shape_name(shape)) + "|" + colour_name(colour) + "|" + position_name(position);
  return name_hash(key) % 1000 < kHeldOutPerMille;
}

}  // namespace dd::scenes
