#pragma once
// Constructors of the individual samplers (one file each), for the rows of the sampler
// catalogue (sampler_catalogue.h).
#include <memory>

#include "sampling/sampler.h"

namespace dd::sampling {

std::unique_ptr<Sampler> make_euler(const ScheduleConfig& config, int steps);
std::unique_ptr<Sampler> make_euler_ancestral(const ScheduleConfig& config, int steps);
std::unique_ptr<Sampler> make_heun(const ScheduleConfig& config, int steps);
std::unique_ptr<Sampler> make_dpmpp_2m(const ScheduleConfig& config, int steps);
std::unique_ptr<Sampler> make_ddim(const ScheduleConfig& config, int steps);
std::unique_ptr<Sampler> make_lcm(const ScheduleConfig& config, int steps);
std::unique_ptr<Sampler> make_unipc(const ScheduleConfig& config, int steps);
std::unique_ptr<Sampler> make_pndm(const ScheduleConfig& config, int steps);

}  // namespace dd::sampling
