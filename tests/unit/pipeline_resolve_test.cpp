// GenerationParams and resolve(): the one place unset parameters get their values, in one order
// (request, model sidecar, model family, dialect, engine), and the JSON form the job stores.
#include <gtest/gtest.h>

#include <cmath>

#include "pipeline/resolve.h"
#include "util/error.h"

namespace dd::pipeline {
namespace {

TEST(GenerationParams, JsonRoundTripKeepsSetFieldsAndLeavesOutUnsetOnes) {
  GenerationParams params;
  params.prompt = "a cat";
  params.steps = 7;
  params.cfg = 4.5;
  params.seed = (int64_t(1) << 40) + 3;
  params.clip_skip = 2;
  params.prompt_weighting = false;
  params.negative_micro.crop_top_left = std::array<int, 2>{8, 16};
  const auto json = params.to_json();
  EXPECT_FALSE(json.contains("width"));
  EXPECT_FALSE(json.contains("sampler"));
  EXPECT_EQ(json["negative_crop_top_left"], nlohmann::json::array({8, 16}));
  EXPECT_EQ(GenerationParams::from_json(json, ""), params);
  EXPECT_EQ(GenerationParams::from_json(nlohmann::json::object(), ""), GenerationParams{});
}

TEST(GenerationParams, StrictReadingRefusesUnknownFields) {
  const nlohmann::json json = {{"steps", 4}, {"stpes", 5}};
  EXPECT_EQ(GenerationParams::from_json(json, "").steps, 4);
  EXPECT_THROW(GenerationParams::from_json(json, "", /*strict=*/true), Error);
  EXPECT_THROW(GenerationParams::from_json({{"steps", "4"}}, ""), Error);
}

TEST(GenerationParams, OverTakesEachFieldFromTheFirstThatSetsIt) {
  GenerationParams mine, fallback;
  mine.steps = 3;
  mine.micro.target_size = std::array<int, 2>{64, 64};
  fallback.steps = 9;
  fallback.cfg = 2;
  fallback.micro.original_size = std::array<int, 2>{128, 128};
  const auto merged = mine.over(fallback);
  EXPECT_EQ(merged.steps, 3);
  EXPECT_EQ(merged.cfg, 2.0);
  EXPECT_EQ(merged.micro.target_size, (std::array<int, 2>{64, 64}));
  EXPECT_EQ(merged.micro.original_size, (std::array<int, 2>{128, 128}));
}

TEST(Resolve, EngineDefaultsAreDeclaredOnceInTheRequest) {
  const auto& defaults = engine_defaults();
  const GenerationRequest request;
  EXPECT_EQ(defaults.steps, request.steps);
  EXPECT_EQ(defaults.cfg, 7.0);  // the seed APIs' examples and AUTOMATIC1111
  EXPECT_EQ(defaults.sampler, "euler_a");
  EXPECT_EQ(defaults.samples, 1);
  EXPECT_EQ(defaults.clip_skip, 1);
  EXPECT_FALSE(defaults.width);  // the model's
  EXPECT_FALSE(defaults.seed);   // random
}

TEST(Resolve, RequestThenModelThenDialectThenEngine) {
  GenerationParams request, model, dialect;
  request.cfg = 3;
  model.cfg = 4;
  model.steps = 4;
  dialect.steps = 30;
  dialect.strength = 1.0;
  request.prompt = "x";
  request.seed = 5;
  const auto resolved = resolve(request, {model, {}, dialect, 512, 768});
  EXPECT_EQ(resolved.cfg, 3.0);            // the request's
  EXPECT_EQ(resolved.steps, 4);            // the model's, over the dialect's
  EXPECT_EQ(resolved.strength, 1.0);       // the dialect's
  EXPECT_EQ(resolved.sampler, "euler_a");  // the engine's
  EXPECT_EQ(resolved.width, 512);          // the model's native size
  EXPECT_EQ(resolved.height, 768);
  EXPECT_EQ(resolved.seed, 5);
  // Every field is set once resolved.
  GenerationParams::for_each_field(
      [](const char* name, const auto& field) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(field)>,
                                      std::optional<std::array<int, 2>>>) {
          EXPECT_TRUE(field.has_value()) << name;
        }
      },
      resolved);
}

TEST(Resolve, TheFamilysDefaultsSitBetweenTheSidecarAndTheDialect) {
  GenerationParams request, sidecar, family, dialect;
  family.steps = 4;
  family.sampler = "euler";
  family.cfg = 1;
  family.guidance = 3.5;
  family.max_sequence_length = 256;
  dialect.steps = 30;  // /sd's seed document
  dialect.strength = 1.0;
  sidecar.max_sequence_length = 128;
  request.guidance = 5;
  const auto resolved = resolve(request, {sidecar, family, dialect, 64, 64});
  EXPECT_EQ(resolved.guidance, 5.0);             // the request's, over the family's
  EXPECT_EQ(resolved.max_sequence_length, 128);  // the sidecar's, over the family's
  EXPECT_EQ(resolved.steps, 4);                  // the family's, over the dialect's
  EXPECT_EQ(resolved.sampler, "euler");          // the family's, over the engine's
  EXPECT_EQ(resolved.cfg, 1.0);                  // the family's, over the engine's
  EXPECT_EQ(resolved.strength, 1.0);             // the dialect's
  EXPECT_EQ(resolved.true_cfg, 1.0);             // the engine's: off
  EXPECT_EQ(resolved.clip_skip, 1);              // the engine's
  // Without a family layer the dialect's steps apply, and the engine's FLUX values.
  const auto plain = resolve({}, {{}, {}, dialect, 64, 64});
  EXPECT_EQ(plain.steps, 30);
  EXPECT_EQ(plain.guidance, 3.5);
  EXPECT_EQ(plain.max_sequence_length, 0);  // the model's own
}

TEST(Resolve, FluxFieldsReachTheEngineRequestAndBack) {
  const GenerationRequest defaults;
  EXPECT_EQ(defaults.guidance, 3.5);
  EXPECT_EQ(defaults.true_cfg, 1.0);
  EXPECT_EQ(defaults.max_sequence_length, 0);
  GenerationParams request;
  request.guidance = 2.5;
  request.true_cfg = 4;
  request.max_sequence_length = 77;
  const auto resolved = resolve(request, {{}, {}, {}, 64, 64});
  const auto engine = engine_request(resolved);
  EXPECT_EQ(engine.guidance, 2.5);
  EXPECT_EQ(engine.true_cfg, 4.0);
  EXPECT_EQ(engine.max_sequence_length, 77);
  EXPECT_EQ(params_of(engine), resolved);
  const auto json = request.to_json();
  EXPECT_EQ(json["guidance"], 2.5);
  EXPECT_EQ(json["true_cfg"], 4.0);
  EXPECT_EQ(json["max_sequence_length"], 77);
  EXPECT_EQ(GenerationParams::from_json(json, ""), request);
  EXPECT_THROW(GenerationParams::from_json({{"max_sequence_length", 1.5}}, ""), Error);
}

TEST(Resolve, SeedsAreDrawnAndSamplersNamedTheEngineWay) {
  GenerationParams request;
  request.seed = -1;
  request.sampler = "DPM++ 2M Karras";
  const auto resolved = resolve(request, {{}, {}, {}, 64, 64});
  ASSERT_TRUE(resolved.seed);
  EXPECT_GE(*resolved.seed, 0);
  EXPECT_EQ(resolved.sampler, "dpmpp_2m_karras");
  const auto request_back = engine_request(resolved);
  EXPECT_EQ(request_back.seed, static_cast<uint64_t>(*resolved.seed));
  EXPECT_EQ(params_of(request_back), resolved);
}

TEST(Resolve, BadValuesNameTheirField) {
  auto param_of = [](GenerationParams request) {
    try {
      resolve(request, {{}, {}, {}, 64, 64});
    } catch (const InvalidParameter& e) {
      return e.param();
    }
    return std::string("accepted");
  };
  GenerationParams p;
  p.sampler = "nope";
  EXPECT_EQ(param_of(p), "sampler");
  p = {};
  p.width = 65;
  EXPECT_EQ(param_of(p), "width");
  p = {};
  p.clip_skip = 13;
  EXPECT_EQ(param_of(p), "clip_skip");
  p = {};
  p.strength = 0;
  EXPECT_EQ(param_of(p), "strength");
  p = {};
  p.spacing = "sideways";
  EXPECT_EQ(param_of(p), "spacing");
  // The FLUX fields' ranges: guidance 0..100, true_cfg 1..30, max_sequence_length 0..512.
  const auto flux = [&](auto member, auto value) {
    GenerationParams params;
    params.*member = value;
    return param_of(params);
  };
  EXPECT_EQ(flux(&GenerationParams::guidance, -0.5), "guidance");
  EXPECT_EQ(flux(&GenerationParams::guidance, 100.5), "guidance");
  EXPECT_EQ(flux(&GenerationParams::guidance, std::nan("")), "guidance");
  EXPECT_EQ(flux(&GenerationParams::guidance, 0.0), "accepted");
  EXPECT_EQ(flux(&GenerationParams::guidance, 100.0), "accepted");
  EXPECT_EQ(flux(&GenerationParams::true_cfg, 0.99), "true_cfg");
  EXPECT_EQ(flux(&GenerationParams::true_cfg, 30.5), "true_cfg");
  EXPECT_EQ(flux(&GenerationParams::true_cfg, 1.0), "accepted");
  EXPECT_EQ(flux(&GenerationParams::true_cfg, 30.0), "accepted");
  EXPECT_EQ(flux(&GenerationParams::max_sequence_length, -1), "max_sequence_length");
  EXPECT_EQ(flux(&GenerationParams::max_sequence_length, 513), "max_sequence_length");
  EXPECT_EQ(flux(&GenerationParams::max_sequence_length, 0), "accepted");  // the model's
  EXPECT_EQ(flux(&GenerationParams::max_sequence_length, 512), "accepted");
}

}  // namespace
}  // namespace dd::pipeline
