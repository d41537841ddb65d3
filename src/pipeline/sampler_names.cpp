#include "pipeline/sampler_names.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "util/error.h"

namespace dd::pipeline {

namespace {

const std::vector<std::pair<std::string, std::string>>& names() {
  static const std::vector<std::pair<std::string, std::string>> table = {
      {"euler", "Euler"},
      {"euler_a", "Euler a"},
      {"heun", "Heun"},
      {"dpmpp_2m", "DPM++ 2M"},
      {"dpmpp_2m_karras", "DPM++ 2M Karras"},
      {"ddim", "DDIM"},
      {"lcm", "LCM"},
      {"unipc", "UniPC"},
      {"pndm", "PLMS"}};
  return table;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

}  // namespace

std::string canonical_sampler_name(const std::string& name) {
  const std::string wanted = lower(name);
  for (const auto& [engine, display] : names())
    if (wanted == engine || wanted == lower(display)) return engine;
  if (wanted == "euler_ancestral" || wanted == "k_euler_a") return "euler_a";
  std::string choices;
  for (const auto& [engine, display] : names()) choices += (choices.empty() ? "" : ", ") + display;
  throw Error("unknown sampler '" + name + "' (choose from " + choices + ")");
}

std::string sampler_display_name(const std::string& sampler) {
  for (const auto& [engine, display] : names())
    if (engine == sampler) return display;
  return sampler;
}

std::vector<std::string> accepted_sampler_names() {
  std::vector<std::string> out;
  for (const auto& [engine, display] : names()) {
    out.push_back(engine);
    out.push_back(display);
  }
  return out;
}

}  // namespace dd::pipeline
