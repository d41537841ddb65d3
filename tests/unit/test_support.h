#pragma once
// Shared helpers for the unit tests: where the reference fixtures are, and skipping clearly
// when they are absent.
#include <gtest/gtest.h>

#include <string>

#include "io/fixtures.h"

namespace dd::test {

// ../shared/fixtures (DD_SHARED_DIR at configure time), or "" when absent.
std::string fixtures_dir();
std::string shared_dir();
// ../shared/tokenizers/clip (the real CLIP vocabulary), or "" when absent.
std::string clip_tokenizer_dir();
// The parsed fixtures, loaded once per process.
const io::FixtureSet& fixtures();
// ../shared/fixtures-flux and ../shared/fixtures-flux-fill, or "" when absent; parsed once.
std::string flux_fixtures_dir();
std::string flux_fill_fixtures_dir();
const io::FixtureSet& flux_fixtures();
const io::FixtureSet& flux_fill_fixtures();

// A loopback port the kernel just handed out and the test released again (for a server).
int free_port();

}  // namespace dd::test

#define DD_REQUIRE_FIXTURES()                                                                 \
  do {                                                                                        \
    if (::dd::test::fixtures_dir().empty())                                                   \
      GTEST_SKIP() << "no reference fixtures at " << ::dd::test::shared_dir() << "/fixtures"; \
  } while (0)

#define DD_REQUIRE_FLUX_FIXTURES()                                                            \
  do {                                                                                        \
    if (::dd::test::flux_fixtures_dir().empty())                                              \
      GTEST_SKIP() << "no FLUX fixtures at " << ::dd::test::shared_dir() << "/fixtures-flux"; \
  } while (0)

#define DD_REQUIRE_FLUX_FILL_FIXTURES()                                       \
  do {                                                                        \
    if (::dd::test::flux_fill_fixtures_dir().empty())                         \
      GTEST_SKIP() << "no FLUX Fill fixtures at " << ::dd::test::shared_dir() \
                   << "/fixtures-flux-fill";                                  \
  } while (0)

#define DD_REQUIRE_CLIP_TOKENIZER()                                                              \
  do {                                                                                           \
    if (::dd::test::clip_tokenizer_dir().empty())                                                \
      GTEST_SKIP() << "no CLIP tokenizer at " << ::dd::test::shared_dir() << "/tokenizers/clip"; \
  } while (0)
