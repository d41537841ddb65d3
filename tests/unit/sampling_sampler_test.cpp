// Sampler construction, validation errors, cancellation and the contracts of run / add_noise,
// with synthetic denoisers (no fixtures needed).
#include <gtest/gtest.h>

#include <cmath>

#include "error_of.h"
#include "sampling/noise_schedule.h"
#include "sampling/sampler.h"

namespace dd::sampling {
namespace {

// A deterministic stand-in for a UNet: depends on both the input and the timestep.
torch::Tensor fake_model(const torch::Tensor& x, double t) { return 0.1 * x + std::sin(t / 100.0); }

class ConstantNoise : public NoiseSource {
 public:
  torch::Tensor next(at::IntArrayRef shape) override {
    ++draws;
    return torch::full(shape, 0.5f);
  }
  int draws = 0;
};

ScheduleConfig sd15_like() {
  return ScheduleConfig::from_diffusers(
      {{"beta_schedule", "scaled_linear"}, {"steps_offset", 1}, {"set_alpha_to_one", false}});
}

using test::error_of;

TEST(Sampler, EveryNameRunsAndGivesDescendingTimesteps) {
  ASSERT_EQ(Sampler::names().size(), 9u);
  for (const std::string& name : Sampler::names()) {
    SCOPED_TRACE(name);
    auto sampler = Sampler::create(name, sd15_like(), 8);
    const auto& t = sampler->timesteps();
    ASSERT_GE(t.size(), 8u);
    for (size_t i = 1; i < t.size(); ++i) EXPECT_LE(t[i], t[i - 1]);
    EXPECT_GE(t.back(), 0.0);
    EXPECT_LE(t.front(), 999.0);
    ConstantNoise noise;
    torch::Tensor x = torch::randn({1, 4, 3, 3}) * sampler->init_noise_sigma();
    const torch::Tensor out = sampler->run(x, 0, fake_model, &noise);
    EXPECT_EQ(out.sizes(), x.sizes());
    EXPECT_TRUE(torch::isfinite(out).all().item<bool>());
    EXPECT_EQ(noise.draws, name == "euler_a" ? 8 : name == "lcm" ? 7 : 0);
  }
}

TEST(Sampler, RunsAreRepeatable) {
  // Multistep history must not leak from one run into the next.
  for (const char* name : {"dpmpp_2m", "unipc", "pndm", "heun"}) {
    SCOPED_TRACE(name);
    auto sampler = Sampler::create(name, sd15_like(), 5);
    const torch::Tensor x = torch::randn({1, 4, 2, 2});
    const torch::Tensor a = sampler->run(x, 0, fake_model, nullptr);
    const torch::Tensor b = sampler->run(x, 0, fake_model, nullptr);
    EXPECT_TRUE(torch::equal(a, b));
  }
}

TEST(Sampler, KarrasNameSwitchesKarrasSigmas) {
  auto plain = Sampler::create("dpmpp_2m", sd15_like(), 10);
  auto karras = Sampler::create("dpmpp_2m_karras", sd15_like(), 10);
  EXPECT_EQ(plain->sigmas().front(), karras->sigmas().front());
  EXPECT_NE(plain->sigmas()[5], karras->sigmas()[5]);
  EXPECT_EQ(karras->name(), "dpmpp_2m_karras");
}

TEST(Sampler, SpacingOverridesTheConfig) {
  auto leading = Sampler::create("euler", sd15_like(), 4, "leading");
  EXPECT_EQ(leading->timesteps(), (std::vector<double>{751, 501, 251, 1}));
  auto trailing = Sampler::create("euler", sd15_like(), 4, "trailing");
  EXPECT_EQ(trailing->timesteps(), (std::vector<double>{999, 749, 499, 249}));
}

TEST(Sampler, ValidationErrorsNameTheProblem) {
  EXPECT_NE(error_of([] { Sampler::create("eulerx", sd15_like(), 10); }).find("eulerx"),
            std::string::npos);
  EXPECT_NE(error_of([] { Sampler::create("euler", sd15_like(), 0); }).find("steps"),
            std::string::npos);
  EXPECT_NE(error_of([] { Sampler::create("ddim", sd15_like(), -3); }).find("steps"),
            std::string::npos);
  EXPECT_NE(error_of([] { Sampler::create("euler", sd15_like(), 1001); }).find("steps"),
            std::string::npos);
  EXPECT_NE(error_of([] { Sampler::create("euler", sd15_like(), 10, "middle"); }).find("middle"),
            std::string::npos);
  EXPECT_NE(error_of([] { Sampler::create("lcm", sd15_like(), 51); }).find("original"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              Sampler::from_diffusers("KDPM2DiscreteScheduler", {}, 10);
            }).find("KDPM2DiscreteScheduler"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              Sampler::from_diffusers("DDIMScheduler", {{"thresholding", true}}, 10);
            }).find("thresholding"),
            std::string::npos);
  EXPECT_NE(
      error_of([] {
        Sampler::from_diffusers("EulerDiscreteScheduler", {{"prediction_type", "sample"}}, 10);
      }).find("prediction_type"),
      std::string::npos);
  EXPECT_NE(error_of([] {
              Sampler::from_diffusers("EulerDiscreteScheduler", {{"timestep_spacing", 3}}, 10);
            }).find("timestep_spacing"),
            std::string::npos);
  // diffusers' PNDM default runs Runge-Kutta warm-up steps, which are not implemented.
  EXPECT_NE(error_of([] {
              Sampler::from_diffusers("PNDMScheduler", nlohmann::json::object(), 10);
            }).find("PLMS"),
            std::string::npos);
}

TEST(Sampler, Img2imgFirstStepFollowsDiffusers) {
  auto euler = Sampler::create("euler", sd15_like(), 6);
  EXPECT_EQ(euler->img2img_first_step(6, 0.6), 3);  // int(3.6) = 3 steps run
  EXPECT_EQ(euler->img2img_first_step(6, 1.0), 0);
  auto heun = Sampler::create("heun", sd15_like(), 6);
  EXPECT_EQ(heun->img2img_first_step(6, 0.5), 6);  // order 2
  EXPECT_THROW(euler->img2img_first_step(6, 0.1), Error);
  EXPECT_THROW(euler->img2img_first_step(6, 1.5), Error);
  EXPECT_THROW(euler->run(torch::zeros({1, 4, 2, 2}), 6, fake_model, nullptr), Error);
}

TEST(Sampler, AddNoiseUsesTheStepsNoiseLevel) {
  const ScheduleConfig config = sd15_like();
  const NoiseSchedule schedule(config);
  const torch::Tensor x0 = torch::full({1, 4, 2, 2}, 2.0f);
  const torch::Tensor noise = torch::full({1, 4, 2, 2}, -1.0f);
  auto euler = Sampler::create("euler", config, 10);
  EXPECT_FLOAT_EQ(euler->add_noise(x0, noise, 3)[0][0][0][0].item<float>(),
                  2.0f - euler->sigmas()[3]);
  auto ddim = Sampler::create("ddim", config, 10);
  const float acp = schedule.alpha_cumprod(static_cast<int64_t>(ddim->timesteps()[3]));
  EXPECT_NEAR(ddim->add_noise(x0, noise, 3)[0][0][0][0].item<float>(),
              2 * std::sqrt(acp) - std::sqrt(1 - acp), 1e-6);
  auto dpm = Sampler::create("dpmpp_2m", config, 10);
  const float sigma = dpm->sigmas()[3];
  EXPECT_NEAR(dpm->add_noise(x0, noise, 3)[0][0][0][0].item<float>(),
              (2 - sigma) / std::sqrt(sigma * sigma + 1), 1e-6);
}

TEST(Sampler, CallbackCanCancelAndEditLatents) {
  auto sampler = Sampler::create("euler", sd15_like(), 10);
  int calls = 0;
  auto counting_model = [&](const torch::Tensor& x, double t) {
    ++calls;
    return fake_model(x, t);
  };
  StepCallback stop_after_two = [](int step, int, torch::Tensor&) { return step < 1; };
  EXPECT_THROW(sampler->run(torch::zeros({1, 4, 2, 2}), 0, counting_model, nullptr, stop_after_two),
               Cancelled);
  EXPECT_EQ(calls, 2);

  // Latents replaced in the callback are what the next step starts from.
  auto ddim = Sampler::create("ddim", sd15_like(), 3);
  std::vector<double> inputs;
  auto recording_model = [&](const torch::Tensor& x, double) {
    inputs.push_back(x.abs().max().item<double>());
    return torch::zeros_like(x);
  };
  StepCallback zero_latents = [](int, int, torch::Tensor& x) {
    x = torch::zeros_like(x);
    return true;
  };
  ddim->run(torch::ones({1, 4, 2, 2}), 0, recording_model, nullptr, zero_latents);
  EXPECT_EQ(inputs, (std::vector<double>{1.0, 0.0, 0.0}));
}

TEST(Sampler, AncestralSamplerNeedsANoiseSource) {
  auto sampler = Sampler::create("euler_a", sd15_like(), 4);
  EXPECT_THROW(sampler->run(torch::zeros({1, 4, 2, 2}), 0, fake_model, nullptr), Error);
}

}  // namespace
}  // namespace dd::sampling
