#pragma once
// Sigma schedules over the training sigmas: linear interpolation at (possibly fractional)
// timesteps, Karras et al. (rho = 7) spacing and the inverse map sigma -> timestep, with
// diffusers' (NumPy's) precision: float64, except where diffusers mixes in float32 tables.
#include <vector>

namespace dd::sampling {

// np.interp(timesteps, arange(len(train_sigmas)), train_sigmas) in float64.
std::vector<double> interpolate_sigmas(const std::vector<double>& timesteps,
                                       const std::vector<float>& train_sigmas);
// Karras sigmas from sigma_max down to sigma_min, n values.
std::vector<double> karras_sigmas(double sigma_min, double sigma_max, int n);
// Fractional training timestep of a sigma (log-sigma interpolation, diffusers' _sigma_to_t).
double sigma_to_timestep(double sigma, const std::vector<float>& log_train_sigmas);
std::vector<float> log_of(const std::vector<float>& values);

}  // namespace dd::sampling
