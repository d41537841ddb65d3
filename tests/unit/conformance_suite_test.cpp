// The conformance suite on the FLUX fixtures, and on cases of kinds the engine does not build.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "conformance/suite.h"
#include "io/fixtures.h"
#include "test_support.h"

namespace dd::conformance {
namespace {

namespace fs = std::filesystem;

TEST(ConformanceSuite, RunsEveryFluxCase) {
  DD_REQUIRE_FLUX_FIXTURES();
  const std::string dir = test::flux_fixtures_dir();
  const size_t cases = io::FixtureSet(dir).cases().size();
  SuiteOptions options;
  options.dir = dir;
  std::ostringstream out;
  EXPECT_EQ(run_suite(options, out), 0) << out.str();
  EXPECT_NE(out.str().find(std::to_string(cases) + " passed, 0 failed, 0 skipped"),
            std::string::npos)
      << out.str();
}

// A case of a kind the engine does not build (here a made-up FLUX Redux forward) is skipped with
// its reason, not failed: the run exits 0 and counts it as skipped.
TEST(ConformanceSuite, SkipsWhatIsNotBuiltYetSayingWhy) {
  DD_REQUIRE_FLUX_FIXTURES();
  const fs::path flux(test::flux_fixtures_dir());
  std::ifstream in(flux / "manifest.json");
  auto manifest = nlohmann::json::parse(in);
  const fs::path dir = fs::temp_directory_path() / ("dd_unbuilt_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  // The manifest's model paths are relative to its folder: point them at the FLUX set's files.
  for (auto& [name, model] : manifest["models"].items())
    for (auto& [field, path] : model.items())
      if (path.is_string() && fs::exists(flux / path.get<std::string>()))
        path = fs::relative(flux / path.get<std::string>(), dir).string();
  auto redux = manifest["cases"][0];
  redux["name"] = "redux_forward";
  redux["kind"] = "redux_forward";
  manifest["cases"] = nlohmann::json::array({redux});
  std::ofstream(dir / "manifest.json") << manifest.dump();
  SuiteOptions options;
  options.dir = dir.string();
  std::ostringstream out;
  EXPECT_EQ(run_suite(options, out), 0) << out.str();
  EXPECT_NE(out.str().find("case kind 'redux_forward' is not built yet"), std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("0 passed, 0 failed, 1 skipped"), std::string::npos) << out.str();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace dd::conformance
