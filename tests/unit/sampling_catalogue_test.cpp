// The sampler catalogue: every spelling of a row resolves to it, the lookups and the Sampler
// statics agree with it, and from_diffusers / names() behave as before the catalogue.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "error_of.h"
#include "sampling/sampler.h"
#include "sampling/sampler_catalogue.h"

namespace dd::sampling {
namespace {

using test::error_of;

std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// Every spelling of a row: engine name, display name, aliases.
std::vector<std::string> spellings(const SamplerEntry& row) {
  std::vector<std::string> out = {row.name, row.display_name};
  out.insert(out.end(), row.aliases.begin(), row.aliases.end());
  return out;
}

TEST(SamplerCatalogue, EverySpellingResolvesToItsRowInAnyCase) {
  for (const auto& row : sampler_catalogue()) {
    for (const auto& spelling : spellings(row)) {
      for (const auto& text : {spelling, upper(spelling), lower(spelling)}) {
        SCOPED_TRACE(text);
        EXPECT_EQ(find_sampler(text), &row);
        EXPECT_EQ(canonical_sampler_name(text), row.name);
      }
    }
    EXPECT_EQ(sampler_display_name(row.name), row.display_name);
  }
}

TEST(SamplerCatalogue, SpellingsAreUniqueAcrossRows) {
  std::set<std::string> seen;
  for (const auto& row : sampler_catalogue()) {
    std::set<std::string> own;
    for (const auto& spelling : spellings(row)) own.insert(lower(spelling));
    for (const auto& spelling : own) EXPECT_TRUE(seen.insert(spelling).second) << spelling;
  }
}

TEST(SamplerCatalogue, KnownSpellings) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"Euler", "euler"},
      {"euler a", "euler_a"},
      {"EULER_ANCESTRAL", "euler_a"},
      {"k_euler_a", "euler_a"},
      {"k_euler", "euler"},
      {"k_heun", "heun"},
      {"DPM++ 2M", "dpmpp_2m"},
      {"dpm++ 2m karras", "dpmpp_2m_karras"},
      {"plms", "pndm"},
      {"UniPC", "unipc"},
      {"DDIM", "ddim"},
      {"lcm", "lcm"}};
  for (const auto& [spelling, engine] : cases) EXPECT_EQ(canonical_sampler_name(spelling), engine);
  EXPECT_EQ(sampler_display_name("pndm"), "PLMS");
  EXPECT_EQ(sampler_display_name("euler_a"), "Euler a");
  EXPECT_EQ(sampler_display_name("something"), "something");
}

TEST(SamplerCatalogue, UnknownNamesListTheChoices) {
  EXPECT_EQ(find_sampler("warp"), nullptr);
  EXPECT_EQ(find_sampler(""), nullptr);
  const std::string message = error_of([] { canonical_sampler_name("warp"); });
  EXPECT_NE(message.find("'warp'"), std::string::npos) << message;
  EXPECT_NE(message.find(sampler_choices_text()), std::string::npos) << message;
  for (const auto& row : sampler_catalogue())
    EXPECT_NE(message.find(row.display_name), std::string::npos) << row.display_name;
}

TEST(SamplerCatalogue, ChoicesTextAndAcceptedNames) {
  EXPECT_EQ(sampler_choices_text(),
            "Euler, Euler a, Heun, DPM++ 2M, DPM++ 2M Karras, DDIM, LCM, UniPC, PLMS");
  std::vector<std::string> expected;
  for (const auto& row : sampler_catalogue()) {
    expected.push_back(row.name);
    expected.push_back(row.display_name);
  }
  EXPECT_EQ(accepted_sampler_names(), expected);
}

TEST(SamplerCatalogue, NamesOrderUnchanged) {
  EXPECT_EQ(Sampler::names(),
            (std::vector<std::string>{"euler", "euler_a", "heun", "dpmpp_2m", "dpmpp_2m_karras",
                                      "ddim", "lcm", "unipc", "pndm"}));
  std::vector<std::string> from_rows;
  for (const auto& row : sampler_catalogue()) from_rows.push_back(row.name);
  EXPECT_EQ(Sampler::names(), from_rows);
}

TEST(SamplerCatalogue, CreateTakesEngineNamesOnly) {
  const ScheduleConfig config = ScheduleConfig::from_diffusers(nlohmann::json::object());
  for (const auto& row : sampler_catalogue())
    EXPECT_EQ(Sampler::create(row.name, config, 4)->name(), row.name);
  const std::string message = error_of([&] { Sampler::create("Euler a", config, 4); });
  EXPECT_NE(message.find("euler, euler_a, heun"), std::string::npos) << message;
}

// The table from_diffusers had before the catalogue, as the samplers each class makes.
TEST(SamplerCatalogue, FromDiffusersMapsEveryClassAsBefore) {
  const std::vector<std::pair<std::string, std::string>> classes = {
      {"EulerDiscreteScheduler", "euler"},
      {"EulerAncestralDiscreteScheduler", "euler_a"},
      {"HeunDiscreteScheduler", "heun"},
      {"DPMSolverMultistepScheduler", "dpmpp_2m"},
      {"DDIMScheduler", "ddim"},
      {"LCMScheduler", "lcm"},
      {"UniPCMultistepScheduler", "unipc"},
      {"PNDMScheduler", "pndm"}};
  const nlohmann::json config = {{"skip_prk_steps", true}};
  for (const auto& [class_name, sampler] : classes) {
    SCOPED_TRACE(class_name);
    EXPECT_EQ(Sampler::from_diffusers(class_name, config, 6)->name(), sampler);
  }
  // DPM-Solver's own config decides Karras sigmas (the karras row is not picked by class).
  EXPECT_EQ(Sampler::from_diffusers("DPMSolverMultistepScheduler", {{"use_karras_sigmas", true}}, 6)
                ->name(),
            "dpmpp_2m_karras");
  // The error lists each class once, in the old order.
  const std::string message =
      error_of([] { Sampler::from_diffusers("KDPM2DiscreteScheduler", {}, 6); });
  std::string known;
  for (const auto& [class_name, sampler] : classes)
    known += (known.empty() ? "" : ", ") + class_name;
  EXPECT_NE(message.find("(supported: " + known + ")"), std::string::npos) << message;
}

}  // namespace
}  // namespace dd::sampling
