#pragma once
// The settings of a noise schedule and its sampler, parsed from a diffusers scheduler config
// (scheduler_config.json or the "config" of a fixture). Keys a config leaves out keep
// diffusers' class defaults; where those differ between scheduler classes the field stays
// unset here and each sampler fills in its own default.
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace dd::sampling {

enum class Prediction { Epsilon, VPrediction };

struct ScheduleConfig {
  // The training noise schedule.
  int num_train_timesteps = 1000;
  std::string beta_schedule = "scaled_linear";  // scaled_linear | linear | squaredcos_cap_v2
  double beta_start = 0.00085;
  double beta_end = 0.012;
  std::vector<double> trained_betas;  // non-empty: used instead of beta_schedule
  Prediction prediction = Prediction::Epsilon;

  // Inference timesteps. "" / unset = the sampler's own default.
  std::string timestep_spacing;  // leading | linspace | trailing
  int steps_offset = 0;
  std::optional<bool> set_alpha_to_one;
  std::optional<bool> clip_sample;
  double clip_sample_range = 1.0;
  bool use_karras_sigmas = false;
  std::string final_sigmas_type = "zero";  // zero | sigma_min

  // Multistep solvers (DPM-Solver++, UniPC).
  int solver_order = 2;
  std::string solver_type;  // DPM: midpoint | heun; UniPC: bh1 | bh2
  bool lower_order_final = true;
  bool euler_at_final = false;
  double lambda_min_clipped = -std::numeric_limits<double>::infinity();
  std::vector<int> disable_corrector;

  // LCM.
  int original_inference_steps = 50;
  double timestep_scaling = 10.0;

  // PNDM: only the PLMS variant (skip_prk_steps) is implemented.
  std::optional<bool> skip_prk_steps;

  // Reads every key diffusers' SD/SDXL schedulers use; options this engine does not implement
  // (thresholding, zero-SNR rescaling, other algorithm types, ...) are a dd::Error naming the key.
  static ScheduleConfig from_diffusers(const nlohmann::json& config);
};

const char* prediction_name(Prediction prediction);

}  // namespace dd::sampling
