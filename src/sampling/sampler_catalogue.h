#pragma once
// The one list of samplers: one row per sampler, and everything else derives from it
// (Sampler::create, Sampler::from_diffusers, Sampler::names, the name lookups below, GET
// /samplers and the CLI's --sampler help).
//
// Adding a sampler = its own file (the sampler class and its make_* constructor, declared in
// samplers.h) + one row in the catalogue in sampler_catalogue.cpp. Nothing else lists samplers.
#include <memory>
#include <string>
#include <vector>

namespace dd::sampling {

class Sampler;
struct ScheduleConfig;

using SamplerMaker = std::unique_ptr<Sampler> (*)(const ScheduleConfig& config, int steps);

// How Sampler::create(name) sets use_karras_sigmas: forced on, forced off, or kept from the
// model's schedule config.
enum class KarrasOption { On, Off, FromConfig };

struct SamplerEntry {
  std::string name;                  // the engine's name ("euler_a"), what requests carry
  std::string display_name;          // A1111's ("Euler a"), what users see
  std::vector<std::string> aliases;  // further accepted spellings ("k_euler_a")
  // The diffusers scheduler class the sampler follows. Several rows may share a class
  // (dpmpp_2m, dpmpp_2m_karras); Sampler::from_diffusers uses the first row with the class.
  std::string diffusers_class;
  SamplerMaker make;
  KarrasOption karras;
  // Sampler::create forces skip_prk_steps (PLMS picked by name over a config that may come
  // from another scheduler class).
  bool skip_prk_steps = false;
};

// The rows, in the order of Sampler::names().
const std::vector<SamplerEntry>& sampler_catalogue();

// The row whose engine name, display name or alias is `name`, in any case; nullptr if none.
const SamplerEntry* find_sampler(const std::string& name);
// The engine's name for any accepted spelling; a dd::Error listing the choices otherwise.
std::string canonical_sampler_name(const std::string& name);
// A1111's display name of an engine name ("euler_a" -> "Euler a"); other text unchanged.
std::string sampler_display_name(const std::string& sampler);
// Each row's engine name and display name, in catalogue order (aliases are accepted too, but
// not listed: they are in the rows).
std::vector<std::string> accepted_sampler_names();
// The display names joined by ", " ("Euler, Euler a, ..."), for help text.
std::string sampler_choices_text();

}  // namespace dd::sampling
