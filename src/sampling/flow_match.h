#pragma once
// The flow-matching schedule of FLUX.1 (diffusers' FlowMatchEulerDiscreteScheduler as
// FluxPipeline sets it): sigmas from 1 down to 1/n, shifted towards 1 by a resolution-dependent
// `mu` (dynamic shifting, FLUX.1-dev) or a fixed `shift` (static, FLUX.1-schnell: shift 1 is the
// identity), then a final sigma 0. The sampler steps x += (sigma_next - sigma) * v.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

namespace dd::sampling {

// scheduler_config.json of a FLUX diffusers folder. Defaults are diffusers' class defaults,
// which are also FLUX.1-schnell's values (FLUX.1-dev: shift 3, use_dynamic_shifting true).
struct FlowMatchConfig {
  int num_train_timesteps = 1000;
  double shift = 1.0;
  bool use_dynamic_shifting = false;
  double base_shift = 0.5;
  double max_shift = 1.15;
  int64_t base_image_seq_len = 256;
  int64_t max_image_seq_len = 4096;
};

// Reads the keys above; options this engine does not implement (shift_terminal, Karras /
// exponential / beta sigmas, invert_sigmas, linear time_shift_type) are a dd::Error naming the key.
FlowMatchConfig flow_match_config_from_diffusers(const nlohmann::json& config);

// Where diffusers does the shift arithmetic. 0.30 shifts the float64 linspace and rounds once;
// 0.32 casts the linspace to float32 first and shifts in float32 (NumPy keeps float32 arrays
// float32), which moves some sigmas by one float32 ulp.
enum class FlowShiftPrecision { Float64, Float32 };

// diffusers' calculate_shift: mu = image_seq_len * m + b on the line through
// (base_image_seq_len, base_shift) and (max_image_seq_len, max_shift), in float64.
// image_seq_len is the number of packed latent tokens, (h/2)*(w/2).
double flow_match_mu(int64_t image_seq_len, const FlowMatchConfig& config);

struct FlowSchedule {
  std::vector<float> sigmas;     // n + 1, from the first (1 for the full schedule) to a final 0
  std::vector<float> timesteps;  // n, sigmas[k] * num_train_timesteps in float32
};

// The n-step schedule. `mu` is used only with use_dynamic_shifting (then it is required to be
// finite); static shifting uses config.shift. Steps < 1 are a dd::Error.
FlowSchedule flow_match_schedule(int steps, const FlowMatchConfig& config, double mu,
                                 FlowShiftPrecision precision = FlowShiftPrecision::Float64);

// img2img / inpaint: how much of the full schedule runs. diffusers' FLUX pipelines keep the
// fraction (init_timestep = min(n * strength, n), a float) and start at
// t_start = int(max(n - init_timestep, 0)); steps t_start..n-1 run, starting from sigmas[t_start].
struct FlowStart {
  double init_timestep = 0;
  int t_start = 0;
};
FlowStart flow_match_start(int steps, double strength);

}  // namespace dd::sampling
