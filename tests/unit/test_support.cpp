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

std::string clip_tokenizer_dir() {
  const std::string dir = shared_dir() + "/tokenizers/clip";
  return std::filesystem::exists(dir + "/vocab.json") &&
                 std::filesystem::exists(dir + "/merges.txt")
             ? dir
             : "";
}

const io::FixtureSet& fixtures() {
  static const io::FixtureSet set(fixtures_dir());
  return set;
}

}  // namespace dd::test
