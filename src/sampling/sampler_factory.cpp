// Sampler::from_diffusers / create / names, all read off the catalogue (sampler_catalogue.h).
#include <algorithm>

#include "sampling/sampler.h"
#include "sampling/sampler_catalogue.h"
#include "sampling/timestep_spacing.h"
#include "util/error.h"

namespace dd::sampling {

std::unique_ptr<Sampler> Sampler::from_diffusers(const std::string& class_name,
                                                 const nlohmann::json& config, int steps) {
  // The first row with the class: rows sharing one (dpmpp_2m, dpmpp_2m_karras) share the maker
  // too, and the class's own config decides the options.
  for (const auto& row : sampler_catalogue())
    if (class_name == row.diffusers_class)
      return row.make(ScheduleConfig::from_diffusers(config), steps);
  std::vector<std::string> classes;
  for (const auto& row : sampler_catalogue())
    if (std::find(classes.begin(), classes.end(), row.diffusers_class) == classes.end())
      classes.push_back(row.diffusers_class);
  std::string known;
  for (const auto& name : classes) known += (known.empty() ? "" : ", ") + name;
  throw Error("unsupported scheduler class '" + class_name + "' (supported: " + known + ")");
}

std::unique_ptr<Sampler> Sampler::create(const std::string& name, const ScheduleConfig& base,
                                         int steps, const std::string& spacing) {
  for (const auto& row : sampler_catalogue()) {
    if (name != row.name) continue;
    ScheduleConfig config = base;
    if (!spacing.empty()) {
      check_spacing(spacing);
      config.timestep_spacing = spacing;
    }
    if (row.karras != KarrasOption::FromConfig)
      config.use_karras_sigmas = row.karras == KarrasOption::On;
    if (row.skip_prk_steps) config.skip_prk_steps = true;
    return row.make(config, steps);
  }
  std::string known;
  for (const auto& sampler_name : names()) known += (known.empty() ? "" : ", ") + sampler_name;
  throw Error("unknown sampler '" + name + "' (expected one of: " + known + ")");
}

std::vector<std::string> Sampler::names() {
  std::vector<std::string> out;
  for (const auto& row : sampler_catalogue()) out.push_back(row.name);
  return out;
}

}  // namespace dd::sampling
