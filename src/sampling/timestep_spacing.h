#pragma once
// How diffusers picks the inference timesteps out of the training ones ("leading",
// "linspace", "trailing" spacing + steps_offset), reproducing NumPy's float64 arithmetic
// (linspace, arange with a float step, round half to even) so fractional Euler timesteps and
// rounded integer ones come out exactly as in diffusers 0.30.3.
#include <string>
#include <vector>

namespace dd::sampling {

// np.linspace(start, stop, num, endpoint) in float64.
std::vector<double> numpy_linspace(double start, double stop, int num, bool endpoint = true);
// np.round (half to even) of every value.
std::vector<double> round_half_even(std::vector<double> values);

// Descending timesteps, one per step (Euler, Heun, DDIM style). linspace values keep their
// fractions (Euler); callers that want integers round them (DDIM).
std::vector<double> spaced_timesteps(const std::string& spacing, int train_steps, int steps,
                                     int steps_offset);

// DPM-Solver / UniPC style: spacing over steps + 1 points with the last one dropped, from
// last_timestep (num_train_timesteps unless lambda_min_clipped cuts the schedule). Integers.
std::vector<double> multistep_timesteps(const std::string& spacing, int train_steps, int steps,
                                        int steps_offset, int last_timestep);

// Throws a dd::Error unless spacing is leading, linspace or trailing.
void check_spacing(const std::string& spacing);

}  // namespace dd::sampling
