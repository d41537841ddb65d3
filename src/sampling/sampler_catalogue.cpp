#include "sampling/sampler_catalogue.h"

#include <algorithm>
#include <cctype>

#include "sampling/samplers.h"
#include "util/error.h"

namespace dd::sampling {

namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

}  // namespace

const std::vector<SamplerEntry>& sampler_catalogue() {
  using K = KarrasOption;
  // Aliases: A1111's k-diffusion names for the same samplers, and euler_ancestral.
  static const std::vector<SamplerEntry> rows = {
      {"euler", "Euler", {"k_euler"}, "EulerDiscreteScheduler", make_euler, K::FromConfig},
      {"euler_a",
       "Euler a",
       {"euler_ancestral", "k_euler_a", "k_euler_ancestral"},
       "EulerAncestralDiscreteScheduler",
       make_euler_ancestral,
       K::Off},
      {"heun", "Heun", {"k_heun"}, "HeunDiscreteScheduler", make_heun, K::FromConfig},
      {"dpmpp_2m",
       "DPM++ 2M",
       {"k_dpmpp_2m"},
       "DPMSolverMultistepScheduler",
       make_dpmpp_2m,
       K::Off},
      {"dpmpp_2m_karras",
       "DPM++ 2M Karras",
       {"k_dpmpp_2m_ka"},
       "DPMSolverMultistepScheduler",
       make_dpmpp_2m,
       K::On},
      {"ddim", "DDIM", {}, "DDIMScheduler", make_ddim, K::Off},
      {"lcm", "LCM", {}, "LCMScheduler", make_lcm, K::Off},
      {"unipc", "UniPC", {}, "UniPCMultistepScheduler", make_unipc, K::FromConfig},
      {"pndm", "PLMS", {}, "PNDMScheduler", make_pndm, K::Off, /*skip_prk_steps=*/true},
  };
  return rows;
}

const SamplerEntry* find_sampler(const std::string& name) {
  const std::string wanted = lower(name);
  for (const auto& row : sampler_catalogue()) {
    if (wanted == lower(row.name) || wanted == lower(row.display_name)) return &row;
    for (const auto& alias : row.aliases)
      if (wanted == lower(alias)) return &row;
  }
  return nullptr;
}

std::string canonical_sampler_name(const std::string& name) {
  if (const SamplerEntry* row = find_sampler(name)) return row->name;
  throw Error("unknown sampler '" + name + "' (choose from " + sampler_choices_text() + ")");
}

std::string sampler_display_name(const std::string& sampler) {
  for (const auto& row : sampler_catalogue())
    if (row.name == sampler) return row.display_name;
  return sampler;
}

std::vector<std::string> accepted_sampler_names() {
  std::vector<std::string> out;
  for (const auto& row : sampler_catalogue()) {
    out.push_back(row.name);
    out.push_back(row.display_name);
  }
  return out;
}

std::string sampler_choices_text() {
  std::string out;
  for (const auto& row : sampler_catalogue()) out += (out.empty() ? "" : ", ") + row.display_name;
  return out;
}

}  // namespace dd::sampling
