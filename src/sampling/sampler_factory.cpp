// Sampler::from_diffusers / create / names: the table of samplers. Adding a sampler = its own
// file + one line in each table here.
#include <utility>

#include "sampling/samplers.h"
#include "sampling/timestep_spacing.h"
#include "util/error.h"

namespace dd::sampling {

namespace {

using Maker = std::unique_ptr<Sampler> (*)(const ScheduleConfig&, int);

struct DiffusersClass {
  const char* class_name;
  Maker make;
};

const DiffusersClass kDiffusersClasses[] = {
    {"EulerDiscreteScheduler", make_euler},
    {"EulerAncestralDiscreteScheduler", make_euler_ancestral},
    {"HeunDiscreteScheduler", make_heun},
    {"DPMSolverMultistepScheduler", make_dpmpp_2m},
    {"DDIMScheduler", make_ddim},
    {"LCMScheduler", make_lcm},
    {"UniPCMultistepScheduler", make_unipc},
    {"PNDMScheduler", make_pndm},
};

struct NamedSampler {
  const char* name;
  Maker make;
  // How the name sets use_karras_sigmas: forced on, forced off, or kept from the config.
  enum class Karras { On, Off, FromConfig } karras;
};

const NamedSampler kNamedSamplers[] = {
    {"euler", make_euler, NamedSampler::Karras::FromConfig},
    {"euler_a", make_euler_ancestral, NamedSampler::Karras::Off},
    {"heun", make_heun, NamedSampler::Karras::FromConfig},
    {"dpmpp_2m", make_dpmpp_2m, NamedSampler::Karras::Off},
    {"dpmpp_2m_karras", make_dpmpp_2m, NamedSampler::Karras::On},
    {"ddim", make_ddim, NamedSampler::Karras::Off},
    {"lcm", make_lcm, NamedSampler::Karras::Off},
    {"unipc", make_unipc, NamedSampler::Karras::FromConfig},
    {"pndm", make_pndm, NamedSampler::Karras::Off},
};

}  // namespace

std::unique_ptr<Sampler> Sampler::from_diffusers(const std::string& class_name,
                                                 const nlohmann::json& config, int steps) {
  for (const auto& entry : kDiffusersClasses)
    if (class_name == entry.class_name)
      return entry.make(ScheduleConfig::from_diffusers(config), steps);
  std::string known;
  for (const auto& entry : kDiffusersClasses)
    known += (known.empty() ? "" : ", ") + std::string(entry.class_name);
  throw Error("unsupported scheduler class '" + class_name + "' (supported: " + known + ")");
}

std::unique_ptr<Sampler> Sampler::create(const std::string& name, const ScheduleConfig& base,
                                         int steps, const std::string& spacing) {
  for (const auto& entry : kNamedSamplers) {
    if (name != entry.name) continue;
    ScheduleConfig config = base;
    if (!spacing.empty()) {
      check_spacing(spacing);
      config.timestep_spacing = spacing;
    }
    if (entry.karras != NamedSampler::Karras::FromConfig)
      config.use_karras_sigmas = entry.karras == NamedSampler::Karras::On;
    // The user picked PLMS by name; the base config may come from another scheduler class.
    if (name == "pndm") config.skip_prk_steps = true;
    return entry.make(config, steps);
  }
  std::string known;
  for (const auto& sampler_name : names()) known += (known.empty() ? "" : ", ") + sampler_name;
  throw Error("unknown sampler '" + name + "' (expected one of: " + known + ")");
}

std::vector<std::string> Sampler::names() {
  std::vector<std::string> out;
  for (const auto& entry : kNamedSamplers) out.emplace_back(entry.name);
  return out;
}

}  // namespace dd::sampling
