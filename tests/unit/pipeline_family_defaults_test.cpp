// A model family's own defaults (FLUX.1 schnell and dev as their reference pipelines run them)
// and what the PNG parameters text records of a FLUX model.
#include <gtest/gtest.h>

#include "pipeline/family_defaults.h"
#include "pipeline/parameters_text.h"
#include "pipeline/resolve.h"

namespace dd::pipeline {
namespace {

models::ModelConfig config_of(models::Family family) {
  models::ModelConfig config;
  config.family = family;
  return config;
}

TEST(FamilyDefaults, TheSdFamiliesHaveNoneOfTheirOwn) {
  for (const auto family : {models::Family::SD1, models::Family::SD2, models::Family::SDXL}) {
    EXPECT_EQ(family_defaults(config_of(family)), GenerationParams{}) << family_name(family);
    EXPECT_FALSE(is_guidance_distilled(config_of(family))) << family_name(family);
    EXPECT_FALSE(takes_distilled_guidance(config_of(family))) << family_name(family);
  }
}

TEST(FamilyDefaults, SchnellRunsFourUnguidedStepsOver256Tokens) {
  const auto schnell = flux_defaults(/*guidance_distilled=*/false);
  EXPECT_EQ(schnell.steps, 4);
  EXPECT_EQ(schnell.sampler, "euler");
  EXPECT_EQ(schnell.cfg, 1.0);  // no unconditional pass
  EXPECT_FALSE(schnell.guidance);
  EXPECT_EQ(schnell.max_sequence_length, 256);
  EXPECT_FALSE(schnell.true_cfg);  // the engine's: off
}

TEST(FamilyDefaults, DevRuns28StepsWithGuidance3Point5Over512Tokens) {
  const auto dev = flux_defaults(/*guidance_distilled=*/true);
  EXPECT_EQ(dev.steps, 28);
  EXPECT_EQ(dev.sampler, "euler");
  EXPECT_EQ(dev.cfg, 1.0);
  EXPECT_EQ(dev.guidance, 3.5);
  EXPECT_EQ(dev.max_sequence_length, 512);
  EXPECT_FALSE(dev.true_cfg);
}

models::ModelConfig flux_config(bool guidance_embed) {
  auto config = config_of(models::Family::Flux);
  config.flux.guidance_embed = guidance_embed;
  return config;
}

TEST(FamilyDefaults, AFluxModelGetsTheDefaultsOfItsVariant) {
  const auto schnell = flux_config(false), dev = flux_config(true);
  EXPECT_FALSE(is_guidance_distilled(schnell));
  EXPECT_TRUE(is_guidance_distilled(dev));
  EXPECT_EQ(family_defaults(schnell), flux_defaults(false));
  EXPECT_EQ(family_defaults(dev), flux_defaults(true));
  EXPECT_TRUE(takes_distilled_guidance(dev));
  EXPECT_FALSE(takes_distilled_guidance(schnell));
}

TEST(FamilyDefaults, ADevModelsGuidanceScaleIsItsDistilledGuidance) {
  GenerationParams asked;
  asked.cfg = 4.5;  // every dialect's guidance_scale lands here
  const auto dev = resolve(asked, param_defaults(flux_config(true), {}));
  EXPECT_EQ(dev.guidance, 4.5);
  EXPECT_EQ(dev.cfg, 1.0);  // no unconditional pass: true_cfg is the real one
  asked.guidance = 2.0;     // the request's own guidance wins
  EXPECT_EQ(resolve(asked, param_defaults(flux_config(true), {})).guidance, 2.0);
  GenerationParams sd_asked;
  sd_asked.cfg = 4.5;
  const auto sd = resolve(sd_asked, param_defaults(config_of(models::Family::SD1), {}));
  EXPECT_EQ(sd.cfg, 4.5);  // other families keep CFG as CFG
  const auto schnell = resolve(sd_asked, param_defaults(flux_config(false), {}));
  EXPECT_EQ(schnell.cfg, 4.5);  // schnell has no guidance to take it; it runs no CFG pass anyway
}

TEST(FamilyDefaults, BeatADialectsDefaultButNotTheSidecarOrTheRequest) {
  GenerationParams dialect;
  dialect.steps = 30;  // /sd's seed document
  const auto family = flux_defaults(/*guidance_distilled=*/true);
  const auto resolved = resolve({}, {{}, family, dialect, 1024, 1024});
  EXPECT_EQ(resolved.steps, 28);
  EXPECT_EQ(resolved.sampler, "euler");
  EXPECT_EQ(resolved.guidance, 3.5);
  EXPECT_EQ(resolved.max_sequence_length, 512);
  EXPECT_EQ(resolved.true_cfg, 1.0);
  GenerationParams sidecar, request;
  sidecar.steps = 20;
  sidecar.guidance = 4;
  request.guidance = 2;
  const auto overridden = resolve(request, {sidecar, family, dialect, 1024, 1024});
  EXPECT_EQ(overridden.steps, 20);
  EXPECT_EQ(overridden.guidance, 2.0);
  // The same seed resolves to the same engine request every time.
  GenerationParams seeded;
  seeded.seed = 42;
  EXPECT_EQ(engine_request(resolve(seeded, {{}, family, dialect, 64, 64})).seed, 42u);
  EXPECT_EQ(resolve(seeded, {{}, family, dialect, 64, 64}),
            resolve(seeded, {{}, family, {}, 64, 64}));
}

GenerationRequest flux_request() {
  GenerationRequest request = engine_request(resolve(
      [] {
        GenerationParams p;
        p.prompt = "a fox";
        p.seed = 7;
        return p;
      }(),
      {{}, flux_defaults(true), {}, 64, 64}));
  return request;
}

TEST(ParametersText, AFluxDevModelRecordsItsGuidanceAndName) {
  const auto text = parameters_text(flux_request(), 7, 64, 64, {"flux-dev", true, true});
  EXPECT_NE(text.find("Steps: 28, Sampler: Euler, CFG scale: 1, Guidance: 3.5, Seed: 7, "),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("Model: flux-dev"), std::string::npos) << text;
  EXPECT_EQ(text.find("True CFG scale"), std::string::npos) << text;
}

TEST(ParametersText, TrueCfgIsRecordedWhenItRan) {
  auto request = flux_request();
  request.true_cfg = 4;
  const auto text = parameters_text(request, 7, 64, 64, {"flux-schnell", true, false});
  EXPECT_NE(text.find("CFG scale: 1, True CFG scale: 4, Seed: 7"), std::string::npos) << text;
  EXPECT_EQ(text.find("Guidance"), std::string::npos) << text;  // schnell has none
}

TEST(ParametersText, AnSdModelRecordsNoFluxParameters) {
  GenerationRequest request;
  request.prompt = "a fox";
  request.true_cfg = 4;  // ignored by the SD engine, so not recorded
  const auto text = parameters_text(request, 1, 512, 512,
                                    text_model_info("sd15", config_of(models::Family::SD1)));
  EXPECT_EQ(text.find("Guidance"), std::string::npos) << text;
  EXPECT_EQ(text.find("True CFG"), std::string::npos) << text;
  EXPECT_NE(text.find("CFG scale: 7, Seed: 1, Size: 512x512, Model: sd15"), std::string::npos)
      << text;
  const auto flux = text_model_info("flux", config_of(models::Family::Flux));
  EXPECT_TRUE(flux.flux);
  EXPECT_EQ(flux.distilled_guidance, is_guidance_distilled(config_of(models::Family::Flux)));
}

}  // namespace
}  // namespace dd::pipeline
