// The training noise schedule against the `noise_schedule` fixture (betas, alphas_cumprod,
// training sigmas), built from the case's model scheduler config.
#include <gtest/gtest.h>

#include <fstream>

#include "sampling/noise_schedule.h"
#include "test_support.h"

namespace dd::sampling {
namespace {

nlohmann::json scheduler_config_of(const std::string& model) {
  const auto& set = test::fixtures();
  const std::string path =
      set.model_path(model, "diffusers_dir") + "/scheduler/scheduler_config.json";
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  return nlohmann::json::parse(in);
}

TEST(NoiseSchedule, MatchesTheReferenceTables) {
  DD_REQUIRE_FIXTURES();
  for (const auto& c : test::fixtures().cases()) {
    if (c.kind() != "noise_schedule") continue;
    SCOPED_TRACE(c.name());
    const NoiseSchedule schedule(ScheduleConfig::from_diffusers(scheduler_config_of(c.model())));
    const std::pair<const char*, torch::Tensor> tables[] = {
        {"betas", schedule.betas},
        {"alphas_cumprod", schedule.alphas_cumprod},
        {"sigmas_train", schedule.sigmas}};
    for (const auto& [name, got] : tables) {
      const double diff = io::max_abs_diff(got, c.expected(name));
      std::printf("  %-16s max abs diff %.3g (atol %.3g)\n", name, diff, c.tolerance(name));
      EXPECT_LE(diff, c.tolerance(name)) << name;
    }
  }
}

}  // namespace
}  // namespace dd::sampling
