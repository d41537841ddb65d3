// Every txt2img / img2img / inpaint pipeline case of the fixtures, replayed through the
// samplers without a UNet: the Denoiser checks the model input and timestep diffusers used at
// each call and answers with the recorded (guided) model output; the noise source replays the
// recorded scheduler draws. The cases come from the manifest, so a holdout set works too.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <deque>

#include "sampling/sampler.h"
#include "test_support.h"

namespace dd::sampling {
namespace {

using io::FixtureCase;

std::vector<const FixtureCase*> pipeline_cases() {
  std::vector<const FixtureCase*> out;
  for (const auto& c : test::fixtures().cases()) {
    const bool sd_family = c.model().rfind("sd15", 0) == 0 || c.model().rfind("sdxl", 0) == 0;
    if (c.kind() == "pipeline" && sd_family && c.has_input("scheduler")) out.push_back(&c);
  }
  return out;
}

std::unique_ptr<Sampler> sampler_for(const FixtureCase& c) {
  const auto& scheduler = c.input_value("scheduler");
  return Sampler::from_diffusers(scheduler["class"].get<std::string>(), scheduler["config"],
                                 c.input_value("num_inference_steps").get<int>());
}

// The recorded draws a scheduler made (not the VAE's or the pipeline's), in draw order.
class ReplayedNoise : public NoiseSource {
 public:
  explicit ReplayedNoise(const FixtureCase& c) {
    if (!c.spec().contains("noise_draws")) return;
    for (const auto& draw : c.spec()["noise_draws"]) {
      const std::string module = draw["module"].get<std::string>();
      if (module.rfind("diffusers.schedulers", 0) != 0 || !draw.contains("stored_as") ||
          !draw["stored_as"].is_string())
        continue;
      const std::string stored = draw["stored_as"].get<std::string>();  // "noise[i]"
      const int index = std::stoi(stored.substr(stored.find('[') + 1));
      draws_.push_back(c.input("noise")[index]);
    }
  }
  torch::Tensor next(at::IntArrayRef shape) override {
    if (draws_.empty()) ADD_FAILURE() << "the sampler drew more noise than diffusers did";
    if (draws_.empty()) return torch::zeros(shape);
    torch::Tensor out = draws_.front();
    draws_.pop_front();
    EXPECT_EQ(out.sizes(), shape);
    return out;
  }
  size_t left() const { return draws_.size(); }

 private:
  std::deque<torch::Tensor> draws_;
};

std::vector<double> as_doubles(const nlohmann::json& values) {
  return values.is_null() ? std::vector<double>{} : values.get<std::vector<double>>();
}

TEST(SamplingReplay, SchedulerStateMatchesEveryPipelineCase) {
  DD_REQUIRE_FIXTURES();
  const auto cases = pipeline_cases();
  ASSERT_FALSE(cases.empty());
  for (const FixtureCase* c : cases) {
    SCOPED_TRACE(c->name());
    const auto sampler = sampler_for(*c);
    const auto& state = c->spec()["scheduler_state"];
    const std::vector<double> timesteps = as_doubles(state["timesteps"]);
    ASSERT_EQ(sampler->timesteps().size(), timesteps.size());
    for (size_t i = 0; i < timesteps.size(); ++i)
      EXPECT_NEAR(sampler->timesteps()[i], timesteps[i], 1e-3 * std::max(1.0, timesteps[i]))
          << "timestep " << i;
    const std::vector<double> sigmas = as_doubles(state["sigmas"]);
    ASSERT_EQ(sampler->sigmas().size(), sigmas.size());
    for (size_t i = 0; i < sigmas.size(); ++i)
      EXPECT_NEAR(sampler->sigmas()[i], sigmas[i], 1e-6 * std::max(1.0, sigmas[i]))
          << "sigma " << i;
    const double init = state["init_noise_sigma"].get<double>();
    EXPECT_NEAR(sampler->init_noise_sigma(), init, 1e-6 * init);
    EXPECT_EQ(sampler->order(), state["order"].get<int>());
  }
}

struct ReplayResult {
  double final_diff = 0, worst_step_diff = 0, worst_input_diff = 0, worst_timestep_diff = 0;
  int calls = 0;
  int steps_checked = 0;
};

torch::Tensor latents_part(const torch::Tensor& unet_sample, int64_t channels) {
  return unet_sample.index({torch::indexing::Slice(0, 1), torch::indexing::Slice(0, channels)});
}

ReplayResult replay(const FixtureCase& c, Sampler& sampler) {
  const torch::Tensor unet_samples = c.debug("unet_sample");
  const torch::Tensor unet_timesteps = c.debug("unet_timestep");
  const bool guided = c.spec()["debug"].contains("noise_pred_guided");
  const torch::Tensor model_outputs = c.debug(guided ? "noise_pred_guided" : "unet_out");
  const torch::Tensor step_latents = c.debug("step_latents");
  const int calls = static_cast<int>(unet_timesteps.size(0));
  const int total = static_cast<int>(sampler.timesteps().size());
  const int steps = c.input_value("num_inference_steps").get<int>();

  // img2img starts part-way; its start latents (VAE sample + noise) are not recorded, so
  // they are recovered from the first model input by undoing the input scaling.
  const nlohmann::json& strength = c.input_value("strength");
  const int first_step =
      strength.is_number() ? sampler.img2img_first_step(steps, strength.get<double>()) : 0;
  EXPECT_EQ(total - first_step, calls) << "model calls";
  torch::Tensor x;
  const int64_t channels = step_latents.size(2);
  if (c.has_input("latents")) {
    x = c.input("latents") * static_cast<float>(sampler.init_noise_sigma());
  } else {
    const torch::Tensor first_input = latents_part(unet_samples[0], channels);
    const float scale = sampler.scale_model_input(torch::ones({1}), first_step).item<float>();
    x = first_input / scale;
  }

  ReplayResult result;
  Denoiser model = [&](const torch::Tensor& input, double timestep) {
    const int k = result.calls++;
    EXPECT_LT(k, calls) << "more model calls than diffusers made";
    if (k >= calls) return torch::zeros_like(input);
    result.worst_timestep_diff =
        std::max(result.worst_timestep_diff, std::abs(timestep - unet_timesteps[k].item<double>()));
    result.worst_input_diff = std::max(
        result.worst_input_diff, io::max_abs_diff(input, latents_part(unet_samples[k], channels)));
    return model_outputs[k].clone();
  };
  StepCallback on_step = [&](int step, int total_steps, torch::Tensor& latents) {
    EXPECT_EQ(total_steps, total);
    ++result.steps_checked;
    result.worst_step_diff = std::max(result.worst_step_diff,
                                      io::max_abs_diff(latents, step_latents[step - first_step]));
    return true;
  };
  ReplayedNoise noise(c);
  const torch::Tensor out = sampler.run(x, first_step, model, &noise, on_step);
  EXPECT_EQ(noise.left(), 0u) << "recorded scheduler draws left unused";
  EXPECT_EQ(result.calls, calls);
  EXPECT_EQ(result.steps_checked, calls);
  result.final_diff = io::max_abs_diff(out, c.expected("latents"));
  return result;
}

TEST(SamplingReplay, EveryPipelineCaseMatchesDiffusers) {
  DD_REQUIRE_FIXTURES();
  const auto cases = pipeline_cases();
  ASSERT_FALSE(cases.empty());
  for (const FixtureCase* c : cases) {
    SCOPED_TRACE(c->name());
    const auto sampler = sampler_for(*c);
    const double atol = c->tolerance("latents");
    const ReplayResult r = replay(*c, *sampler);
    std::printf("  %-28s %-16s final %.3g  steps %.3g  inputs %.3g  (atol %.3g)\n",
                c->name().c_str(), sampler->name().c_str(), r.final_diff, r.worst_step_diff,
                r.worst_input_diff, atol);
    EXPECT_LE(r.final_diff, atol);
    EXPECT_LE(r.worst_step_diff, atol);
    EXPECT_LE(r.worst_input_diff, atol);
    EXPECT_LE(r.worst_timestep_diff, 1e-3);
  }
}

}  // namespace
}  // namespace dd::sampling
