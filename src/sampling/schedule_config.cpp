#include "sampling/schedule_config.h"

#include <cmath>
#include <initializer_list>

#include "util/error.h"

namespace dd::sampling {

namespace {

using nlohmann::json;

bool present(const json& config, const char* key) {
  return config.contains(key) && !config[key].is_null();
}

[[noreturn]] void bad_value(const char* key, const std::string& why) {
  throw Error(std::string("scheduler config: '") + key + "' " + why);
}

template <class T>
void read(const json& config, const char* key, T& out) {
  if (!present(config, key)) return;
  try {
    out = config[key].get<T>();
  } catch (const json::exception&) {
    bad_value(key, "has the wrong type (" + config[key].dump() + ")");
  }
}

template <class T>
void read(const json& config, const char* key, std::optional<T>& out) {
  if (!present(config, key)) return;
  T value{};
  read(config, key, value);
  out = value;
}

void require_one_of(const char* key, const std::string& value,
                    std::initializer_list<const char*> allowed) {
  std::string list;
  for (const char* option : allowed) {
    if (value == option) return;
    list += (list.empty() ? "" : ", ") + std::string(option);
  }
  bad_value(key, "= \"" + value + "\" is not supported (expected one of: " + list + ")");
}

// Options diffusers has but this engine does not implement: accepted only at their default.
void reject_unsupported(const json& config) {
  auto reject_if = [&](const char* key, bool unsupported) {
    if (unsupported) bad_value(key, "= " + config[key].dump() + " is not supported");
  };
  auto flag = [&](const char* key) { return present(config, key) && config[key] == true; };
  auto string_other_than = [&](const char* key, const char* supported) {
    return present(config, key) && config[key] != supported;
  };
  reject_if("thresholding", flag("thresholding"));
  reject_if("rescale_betas_zero_snr", flag("rescale_betas_zero_snr"));
  reject_if("use_lu_lambdas", flag("use_lu_lambdas"));
  reject_if("use_exponential_sigmas", flag("use_exponential_sigmas"));
  reject_if("use_beta_sigmas", flag("use_beta_sigmas"));
  reject_if("algorithm_type", string_other_than("algorithm_type", "dpmsolver++"));
  reject_if("interpolation_type", string_other_than("interpolation_type", "linear"));
  reject_if("timestep_type", string_other_than("timestep_type", "discrete"));
  reject_if("predict_x0", present(config, "predict_x0") && config["predict_x0"] != true);
  for (const char* key : {"variance_type", "solver_p", "sigma_min", "sigma_max"})
    reject_if(key, present(config, key));
}

// Python's json writes -Infinity (not JSON); a cleaned-up copy may hold it as a string.
double read_lambda_min_clipped(const json& config) {
  if (!present(config, "lambda_min_clipped")) return -INFINITY;
  const json& value = config["lambda_min_clipped"];
  if (value.is_number()) return value.get<double>();
  if (value == "-Infinity" || value == "-inf") return -INFINITY;
  bad_value("lambda_min_clipped", "must be a number or \"-Infinity\" (" + value.dump() + ")");
}

}  // namespace

ScheduleConfig ScheduleConfig::from_diffusers(const json& config) {
  if (!config.is_object()) throw Error("scheduler config: expected a JSON object");
  reject_unsupported(config);
  ScheduleConfig out;
  read(config, "num_train_timesteps", out.num_train_timesteps);
  read(config, "beta_schedule", out.beta_schedule);
  read(config, "beta_start", out.beta_start);
  read(config, "beta_end", out.beta_end);
  read(config, "trained_betas", out.trained_betas);
  std::string prediction = "epsilon";
  read(config, "prediction_type", prediction);
  require_one_of("prediction_type", prediction, {"epsilon", "v_prediction"});
  out.prediction = prediction == "epsilon" ? Prediction::Epsilon : Prediction::VPrediction;

  read(config, "timestep_spacing", out.timestep_spacing);
  read(config, "steps_offset", out.steps_offset);
  read(config, "set_alpha_to_one", out.set_alpha_to_one);
  read(config, "clip_sample", out.clip_sample);
  read(config, "clip_sample_range", out.clip_sample_range);
  read(config, "use_karras_sigmas", out.use_karras_sigmas);
  read(config, "final_sigmas_type", out.final_sigmas_type);

  read(config, "solver_order", out.solver_order);
  read(config, "solver_type", out.solver_type);
  read(config, "lower_order_final", out.lower_order_final);
  read(config, "euler_at_final", out.euler_at_final);
  out.lambda_min_clipped = read_lambda_min_clipped(config);
  read(config, "disable_corrector", out.disable_corrector);

  read(config, "original_inference_steps", out.original_inference_steps);
  read(config, "timestep_scaling", out.timestep_scaling);
  read(config, "skip_prk_steps", out.skip_prk_steps);

  require_one_of("beta_schedule", out.beta_schedule,
                 {"scaled_linear", "linear", "squaredcos_cap_v2"});
  if (!out.timestep_spacing.empty())
    require_one_of("timestep_spacing", out.timestep_spacing, {"leading", "linspace", "trailing"});
  require_one_of("final_sigmas_type", out.final_sigmas_type, {"zero", "sigma_min"});
  if (out.num_train_timesteps < 2) bad_value("num_train_timesteps", "must be at least 2");
  if (out.steps_offset < 0) bad_value("steps_offset", "must not be negative");
  if (out.solver_order < 1 || out.solver_order > 2)
    bad_value("solver_order", "must be 1 or 2 (third order is not implemented)");
  if (out.original_inference_steps < 1) bad_value("original_inference_steps", "must be at least 1");
  if (!out.trained_betas.empty() &&
      static_cast<int>(out.trained_betas.size()) != out.num_train_timesteps)
    bad_value("trained_betas", "must hold num_train_timesteps values");
  return out;
}

const char* prediction_name(Prediction prediction) {
  return prediction == Prediction::Epsilon ? "epsilon" : "v_prediction";
}

}  // namespace dd::sampling
