// The job record: status names, and JobSpec's JSON form (every field round-trips, missing fields
// keep their defaults, a wrong type names the field).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "service/job.h"
#include "util/error.h"

namespace dd::service {
namespace {

TEST(JobStatusTest, NamesRoundTrip) {
  for (auto status : {JobStatus::Created, JobStatus::InProgress, JobStatus::Success,
                      JobStatus::Failed, JobStatus::Cancelled})
    EXPECT_EQ(parse_status(status_name(status)), status);
  EXPECT_STREQ(status_name(JobStatus::InProgress), "IN_PROGRESS");
  EXPECT_FALSE(parse_status("in_progress"));
  EXPECT_FALSE(is_final(JobStatus::Created));
  EXPECT_FALSE(is_final(JobStatus::InProgress));
  EXPECT_TRUE(is_final(JobStatus::Success));
  EXPECT_TRUE(is_final(JobStatus::Failed));
  EXPECT_TRUE(is_final(JobStatus::Cancelled));
}

TEST(JobSpecTest, JsonRoundTripKeepsEveryField) {
  JobSpec spec;
  spec.model = "sd15-tiny";
  auto& p = spec.params;
  p.prompt = "a <c1> cat";
  p.negative_prompt = "blurry";
  spec.conditioned_prompt = "a \"sks\" person cat";
  p.width = 64;
  p.height = 128;
  p.steps = 7;
  p.cfg = 4.5;
  p.sampler = "euler_a";
  p.spacing = "trailing";
  p.seed = 1234567890123;
  p.samples = 3;
  p.clip_skip = 2;
  p.prompt_weighting = false;
  spec.loras = {{"c1", "/data/loras/c1.safetensors", 0.5, {{"class", "person"}}},
                {"style", "/models/loras/style.safetensors", 1.0, nlohmann::json::object()}};
  spec.init_image_path = "inputs/a.png";
  spec.mask_path = "inputs/m.png";
  p.strength = 0.25;
  spec.dialect_defaults.steps = 30;
  spec.format = "webp";
  spec.quality = 70;
  p.micro.original_size = std::array<int, 2>{1024, 768};
  p.micro.crop_top_left = std::array<int, 2>{0, 16};
  p.negative_micro.target_size = std::array<int, 2>{512, 512};

  const auto back = JobSpec::from_json(nlohmann::json::parse(spec.to_json().dump()));
  EXPECT_EQ(back.to_json(), spec.to_json());
  EXPECT_EQ(back.params, spec.params);
  EXPECT_EQ(back.dialect_defaults, spec.dialect_defaults);
  EXPECT_EQ(back.params.seed, 1234567890123);
  ASSERT_EQ(back.loras.size(), 2u);
  EXPECT_EQ(back.loras[0].meta["class"], "person");
  EXPECT_DOUBLE_EQ(back.loras[0].weight, 0.5);
  EXPECT_EQ(back.format, "webp");
  EXPECT_FALSE(back.params.micro.target_size);
}

TEST(JobSpecTest, MissingFieldsStayUnset) {
  const auto spec =
      JobSpec::from_json({{"params", {{"prompt", "x"}, {"negative_prompt", nullptr}}}});
  EXPECT_EQ(spec.params.prompt, "x");
  EXPECT_FALSE(spec.params.negative_prompt);
  EXPECT_FALSE(spec.params.seed);
  EXPECT_FALSE(spec.params.samples);
  EXPECT_FALSE(spec.params.cfg);
  EXPECT_EQ(spec.format, "png");
}

// A job stored by a build before GenerationParams (flat fields, 0 / -1 / "" for "unset") still
// runs after an upgrade, with the same meaning.
TEST(JobSpecTest, SpecsStoredByOlderBuildsStillLoad) {
  const nlohmann::json old = {{"model", "m"},
                              {"prompt", "a cat"},
                              {"negative_prompt", ""},
                              {"width", 0},
                              {"height", 96},
                              {"steps", 0},
                              {"cfg", -1},
                              {"sampler", ""},
                              {"spacing", "trailing"},
                              {"seed", -1},
                              {"samples", 2},
                              {"strength", 0.5},
                              {"format", "jpeg"},
                              {"quality", 80},
                              {"micro", {{"original_size", {512, 512}}, {"target_size", nullptr}}}};
  const auto spec = JobSpec::from_json(old);
  EXPECT_EQ(spec.model, "m");
  EXPECT_EQ(spec.params.prompt, "a cat");
  EXPECT_FALSE(spec.params.width);
  EXPECT_EQ(spec.params.height, 96);
  EXPECT_FALSE(spec.params.steps);
  EXPECT_FALSE(spec.params.cfg);
  EXPECT_FALSE(spec.params.sampler);
  EXPECT_EQ(spec.params.spacing, "trailing");
  EXPECT_FALSE(spec.params.seed);
  EXPECT_EQ(spec.params.samples, 2);
  EXPECT_EQ(spec.params.strength, 0.5);
  EXPECT_EQ(spec.params.micro.original_size, (std::array<int, 2>{512, 512}));
  EXPECT_FALSE(spec.params.micro.target_size);
  EXPECT_EQ(spec.format, "jpeg");
}

TEST(JobSpecTest, WrongTypesNameTheField) {
  struct Case {
    nlohmann::json json;
    std::string field;
  };
  const std::vector<Case> cases = {
      {{{"params", {{"width", "64"}}}}, "'width'"},
      {{{"params", {{"width", 64.5}}}}, "'width'"},
      {{{"params", {{"width", 1ll << 40}}}}, "'width'"},
      {{{"params", {{"seed", 18446744073709551615ull}}}}, "'seed'"},
      {{{"params", {{"cfg", "7"}}}}, "'cfg'"},
      {{{"params", {{"prompt", 3}}}}, "'prompt'"},
      {{{"params", {{"original_size", {1}}}}}, "'original_size'"},
      {{{"params", {{"negative_target_size", {1, "x"}}}}}, "'negative_target_size'"},
      {{{"params", {{"crop_top_left", {1, 1ll << 40}}}}}, "'crop_top_left'"},
      {{{"params", 3}}, "params"},
      {{{"dialect_defaults", {{"steps", "30"}}}}, "'steps'"},
      {{{"width", "64"}}, "'width'"},  // a spec of an older build
      {{{"micro", 3}}, "'micro'"},
      {{{"loras", "x"}}, "'loras'"},
      {{{"loras", {1}}}, "'loras[0]'"},
      {{{"loras", {{{"name", "a"}}, {{"weight", "heavy"}}}}}, "'loras[1].weight'"},
      {{{"loras", {{{"meta", 3}}}}}, "'loras[0].meta'"},
  };
  for (const auto& c : cases) {
    try {
      JobSpec::from_json(c.json);
      ADD_FAILURE() << "accepted " << c.json.dump();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.field), std::string::npos)
          << e.what() << " should name " << c.field;
    }
  }
  EXPECT_THROW(JobSpec::from_json(nlohmann::json::array()), Error);
}

}  // namespace
}  // namespace dd::service
