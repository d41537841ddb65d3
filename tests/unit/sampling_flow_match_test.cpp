// The FLUX flow-matching schedule against the `flow_schedule` case (every schedule, the mu
// table) and the schedules the FLUX pipeline cases of both fixture sets recorded.
#include <gtest/gtest.h>

#include <fstream>

#include "sampling/flow_match.h"
#include "test_support.h"
#include "util/error.h"

namespace dd::sampling {
namespace {

torch::Tensor tensor_of(const std::vector<float>& values) {
  return torch::tensor(values, torch::kFloat32);
}

torch::Tensor tensor_of_json(const nlohmann::json& values) {
  return tensor_of(values.get<std::vector<float>>());
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  return nlohmann::json::parse(in);
}

TEST(FlowMatchFixtures, EveryScheduleOfTheFlowScheduleCase) {
  DD_REQUIRE_FLUX_FIXTURES();
  const auto& c = test::flux_fixtures().at("flow_schedule");
  const auto& schedules = c.spec().at("schedules");
  ASSERT_FALSE(schedules.empty());
  int checked = 0;
  for (const auto& [name, s] : schedules.items()) {
    SCOPED_TRACE(name);
    const FlowMatchConfig config = flow_match_config_from_diffusers(s.at("config"));
    const int64_t seq = s.at("image_seq_len").get<int64_t>();
    const double mu = flow_match_mu(seq, config);
    EXPECT_NEAR(mu, s.at("mu").get<double>(), 1e-12);
    const FlowSchedule got =
        flow_match_schedule(s.at("num_inference_steps").get<int>(), config, mu);
    for (const char* what : {"sigmas", "timesteps"}) {
      const auto& values = std::string(what) == "sigmas" ? got.sigmas : got.timesteps;
      const std::string key = name + "_" + what;
      const auto expected = c.expected(key);
      ASSERT_EQ(static_cast<int64_t>(values.size()), expected.numel()) << key;
      const double diff = io::max_abs_diff(tensor_of(values), expected);
      std::printf("  %-28s max abs diff %.3g (atol %.3g)\n", key.c_str(), diff, c.tolerance(key));
      EXPECT_LE(diff, c.tolerance(key)) << key;
      // The inline copy holds the same values.
      EXPECT_EQ(io::max_abs_diff(expected, tensor_of_json(s.at(what))), 0.0) << key;
      ++checked;
    }
    EXPECT_EQ(got.sigmas.back(), 0.0f);
  }
  EXPECT_EQ(checked, 2 * static_cast<int>(schedules.size()));
}

TEST(FlowMatchFixtures, MuTable) {
  DD_REQUIRE_FLUX_FIXTURES();
  const auto& set = test::flux_fixtures();
  const auto& c = set.at("flow_schedule");
  const FlowMatchConfig config = flow_match_config_from_diffusers(
      read_json(set.model_path(c.model(), "diffusers_dir") + "/scheduler/scheduler_config.json"));
  const auto seq_lens = c.input("mu_seq_lens").to(torch::kFloat64);
  auto got = torch::empty({seq_lens.numel()}, torch::kFloat64);
  for (int64_t i = 0; i < seq_lens.numel(); ++i)
    got[i] = flow_match_mu(static_cast<int64_t>(seq_lens[i].item<double>()), config);
  const double diff = io::max_abs_diff(got.to(torch::kFloat32), c.expected("mu_table"));
  std::printf("  mu_table max abs diff %.3g (atol %.3g)\n", diff, c.tolerance("mu_table"));
  EXPECT_LE(diff, c.tolerance("mu_table"));
}

// The pipeline cases' recorded schedules: FLUX fixtures (diffusers 0.30.3, float64 shift) and
// the Fill supplement (0.32.2, float32 shift) each match exactly with their own precision.
void check_pipeline_schedules(const io::FixtureSet& set, FlowShiftPrecision precision) {
  int checked = 0;
  for (const auto& c : set.cases()) {
    if (c.kind() != "pipeline" || !c.spec().contains("scheduler_state")) continue;
    SCOPED_TRACE(c.name());
    const auto& state = c.spec().at("scheduler_state");
    const auto& scheduler = c.input_value("scheduler");
    const nlohmann::json config_json = scheduler.is_object() && scheduler.contains("config")
                                           ? scheduler.at("config")
                                           : read_json(set.model_path(c.model(), "diffusers_dir") +
                                                       "/scheduler/scheduler_config.json");
    const FlowMatchConfig config = flow_match_config_from_diffusers(config_json);
    const int steps = c.input_value("num_inference_steps").get<int>();
    const int64_t seq = (c.input_value("height").get<int64_t>() / 16) *
                        (c.input_value("width").get<int64_t>() / 16);
    const double mu = flow_match_mu(seq, config);
    if (state.contains("mu") && !state.at("mu").is_null()) {
      EXPECT_NEAR(mu, state.at("mu").get<double>(), 1e-12);
    }
    const FlowSchedule got = flow_match_schedule(steps, config, mu, precision);
    EXPECT_EQ(io::max_abs_diff(tensor_of(got.sigmas), c.debug("sigmas")), 0.0);
    EXPECT_EQ(io::max_abs_diff(tensor_of(got.timesteps), c.debug("timesteps")), 0.0);
    EXPECT_EQ(io::max_abs_diff(tensor_of(got.sigmas), tensor_of_json(state.at("sigmas"))), 0.0);
    if (state.contains("t_start")) {
      const FlowStart start = flow_match_start(steps, c.input_value("strength").get<double>());
      EXPECT_EQ(start.t_start, state.at("t_start").get<int>());
      EXPECT_DOUBLE_EQ(start.init_timestep, state.at("init_timestep").get<double>());
      EXPECT_EQ(got.sigmas.at(start.t_start), state.at("sigma_start").get<float>());
    }
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

TEST(FlowMatchFixtures, FluxPipelineSchedulesWithFloat64Shift) {
  DD_REQUIRE_FLUX_FIXTURES();
  check_pipeline_schedules(test::flux_fixtures(), FlowShiftPrecision::Float64);
}

TEST(FlowMatchFixtures, FillSupplementSchedulesWithFloat32Shift) {
  DD_REQUIRE_FLUX_FILL_FIXTURES();
  check_pipeline_schedules(test::flux_fill_fixtures(), FlowShiftPrecision::Float32);
}

TEST(FlowMatch, StaticShiftOneIsTheLinspace) {
  const FlowSchedule s = flow_match_schedule(4, FlowMatchConfig{}, 0.0);
  EXPECT_EQ(s.sigmas, (std::vector<float>{1.0f, 0.75f, 0.5f, 0.25f, 0.0f}));
  EXPECT_EQ(s.timesteps, (std::vector<float>{1000.0f, 750.0f, 500.0f, 250.0f}));
  EXPECT_EQ(flow_match_schedule(1, FlowMatchConfig{}, 0.0).sigmas,
            (std::vector<float>{1.0f, 0.0f}));
}

TEST(FlowMatch, StartFollowsTheFluxRuleNotSdsInteger) {
  // 6 * 0.6 = 3.5999999999999996 in float64: t_start = int(2.4000000000000004) = 2; SD's rule
  // (n - int(n * strength)) would give 3.
  EXPECT_EQ(flow_match_start(6, 0.6).t_start, 2);
  EXPECT_EQ(flow_match_start(4, 0.6).t_start, 1);
  EXPECT_EQ(flow_match_start(6, 1.0).t_start, 0);
  EXPECT_EQ(flow_match_start(6, 0.0).t_start, 6);
  EXPECT_THROW(flow_match_start(6, 1.5), Error);
  EXPECT_THROW(flow_match_start(0, 0.5), Error);
}

TEST(FlowMatch, ConfigRejectsWhatItCannotDo) {
  EXPECT_THROW(flow_match_config_from_diffusers({{"use_karras_sigmas", true}}), Error);
  EXPECT_THROW(flow_match_config_from_diffusers({{"shift_terminal", 0.1}}), Error);
  EXPECT_THROW(flow_match_config_from_diffusers({{"time_shift_type", "linear"}}), Error);
  EXPECT_THROW(flow_match_config_from_diffusers({{"shift", "three"}}), Error);
  EXPECT_THROW(flow_match_schedule(0, FlowMatchConfig{}, 0.0), Error);
  const auto c = flow_match_config_from_diffusers(
      {{"shift", 3.0}, {"use_dynamic_shifting", true}, {"shift_terminal", nullptr}});
  EXPECT_TRUE(c.use_dynamic_shifting);
  EXPECT_EQ(c.shift, 3.0);
  EXPECT_EQ(c.max_image_seq_len, 4096);
}

}  // namespace
}  // namespace dd::sampling
