#pragma once
// Sampler names as users know them. The engine's names are euler, euler_a, heun, dpmpp_2m,
// dpmpp_2m_karras, ddim, lcm, unipc, pndm; users also write A1111's display names
// ("Euler a", "DPM++ 2M Karras", "PLMS"), in any case.
#include <string>
#include <vector>

namespace dd::pipeline {

// The engine's name for any accepted spelling; a dd::Error listing the choices otherwise.
std::string canonical_sampler_name(const std::string& name);
// A1111's display name ("euler_a" -> "Euler a").
std::string sampler_display_name(const std::string& sampler);
// Every accepted spelling (engine names and display names).
std::vector<std::string> accepted_sampler_names();

}  // namespace dd::pipeline
