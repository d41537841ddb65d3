#include "test_support.h"

#include <filesystem>

namespace dd::test {

std::string shared_dir() {
  const char* env = std::getenv("DD_SHARED_DIR");
  return env ? env : DD_SHARED_DIR;
}

std::string fixtures_dir() {
  const std::string dir = shared_dir() + "/fixtures";
  return std::filesystem::exists(dir + "/manifest.json") ? dir : "";
}

const io::FixtureSet& fixtures() {
  static const io::FixtureSet set(fixtures_dir());
  return set;
}

}  // namespace dd::test
