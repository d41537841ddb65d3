#include "sampling/flow_match.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "util/error.h"

namespace dd::sampling {

namespace {

using nlohmann::json;

bool present(const json& config, const char* key) {
  return config.contains(key) && !config[key].is_null();
}

template <class T>
void read(const json& config, const char* key, T& out) {
  if (!present(config, key)) return;
  try {
    out = config[key].get<T>();
  } catch (const json::exception&) {
    throw Error(std::string("flow-match scheduler config: '") + key + "' has the wrong type (" +
                config[key].dump() + ")");
  }
}

// Options FlowMatchEulerDiscreteScheduler has that change the schedule and that no FLUX.1
// release uses: accepted only at their defaults.
void reject_unsupported(const json& config) {
  auto reject_if = [&](const char* key, bool unsupported) {
    if (unsupported)
      throw Error(std::string("flow-match scheduler config: '") + key +
                  "' = " + config[key].dump() + " is not supported");
  };
  auto flag = [&](const char* key) { return present(config, key) && config[key] != false; };
  reject_if("shift_terminal", present(config, "shift_terminal"));
  reject_if("use_karras_sigmas", flag("use_karras_sigmas"));
  reject_if("use_exponential_sigmas", flag("use_exponential_sigmas"));
  reject_if("use_beta_sigmas", flag("use_beta_sigmas"));
  reject_if("invert_sigmas", flag("invert_sigmas"));
  reject_if("stochastic_sampling", flag("stochastic_sampling"));
  reject_if("time_shift_type",
            present(config, "time_shift_type") && config["time_shift_type"] != "exponential");
}

// numpy.linspace(1, 1/n, n): start + i * step in float64, the last value set to the end point.
std::vector<double> numpy_linspace(double start, double stop, int n) {
  std::vector<double> out(n);
  const double step = n > 1 ? (stop - start) / (n - 1) : 0.0;
  for (int i = 0; i < n; ++i) out[i] = static_cast<double>(i) * step + start;
  if (n > 1) out[n - 1] = stop;
  return out;
}

// e^mu / (e^mu + (1/s - 1)) or shift*s / (1 + (shift-1)*s), in the arithmetic type T.
template <class T>
float shifted(T s, const FlowMatchConfig& config, double mu) {
  if (config.use_dynamic_shifting) {
    const T e = static_cast<T>(std::exp(mu));
    return static_cast<float>(e / (e + (T(1) / s - T(1))));
  }
  const T shift = static_cast<T>(config.shift);
  return static_cast<float>(shift * s / (T(1) + (shift - T(1)) * s));
}

}  // namespace

FlowMatchConfig flow_match_config_from_diffusers(const json& config) {
  if (!config.is_object()) throw Error("flow-match scheduler config: not a JSON object");
  reject_unsupported(config);
  FlowMatchConfig out;
  read(config, "num_train_timesteps", out.num_train_timesteps);
  read(config, "shift", out.shift);
  read(config, "use_dynamic_shifting", out.use_dynamic_shifting);
  read(config, "base_shift", out.base_shift);
  read(config, "max_shift", out.max_shift);
  read(config, "base_image_seq_len", out.base_image_seq_len);
  read(config, "max_image_seq_len", out.max_image_seq_len);
  if (out.num_train_timesteps < 1)
    throw Error("flow-match scheduler config: num_train_timesteps must be positive");
  if (out.max_image_seq_len == out.base_image_seq_len)
    throw Error("flow-match scheduler config: max_image_seq_len equals base_image_seq_len (" +
                std::to_string(out.base_image_seq_len) + "): mu is undefined");
  if (!(out.shift > 0)) throw Error("flow-match scheduler config: shift must be positive");
  return out;
}

double flow_match_mu(int64_t image_seq_len, const FlowMatchConfig& config) {
  const double m = (config.max_shift - config.base_shift) /
                   static_cast<double>(config.max_image_seq_len - config.base_image_seq_len);
  const double b = config.base_shift - m * static_cast<double>(config.base_image_seq_len);
  return static_cast<double>(image_seq_len) * m + b;
}

FlowSchedule flow_match_schedule(int steps, const FlowMatchConfig& config, double mu,
                                 FlowShiftPrecision precision) {
  if (steps < 1)
    throw Error("flow-match schedule: steps must be at least 1, got " + std::to_string(steps));
  if (config.use_dynamic_shifting && !std::isfinite(mu))
    throw Error("flow-match schedule: dynamic shifting needs a finite mu");
  FlowSchedule out;
  for (double s : numpy_linspace(1.0, 1.0 / steps, steps)) {
    const float sigma = precision == FlowShiftPrecision::Float64
                            ? shifted<double>(s, config, mu)
                            : shifted<float>(static_cast<float>(s), config, mu);
    out.sigmas.push_back(sigma);
    out.timesteps.push_back(sigma * static_cast<float>(config.num_train_timesteps));
  }
  out.sigmas.push_back(0.0f);
  return out;
}

FlowStart flow_match_start(int steps, double strength) {
  if (steps < 1)
    throw Error("flow-match start: steps must be at least 1, got " + std::to_string(steps));
  if (!(strength >= 0.0 && strength <= 1.0))
    throw Error("flow-match start: strength must be in [0, 1], got " + std::to_string(strength));
  FlowStart out;
  const double n = steps;
  out.init_timestep = std::min(n * strength, n);
  out.t_start = static_cast<int>(std::max(n - out.init_timestep, 0.0));
  return out;
}

}  // namespace dd::sampling
