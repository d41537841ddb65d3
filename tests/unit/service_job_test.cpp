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
  spec.prompt = "a <c1> cat";
  spec.negative_prompt = "blurry";
  spec.conditioned_prompt = "a \"sks\" person cat";
  spec.width = 64;
  spec.height = 128;
  spec.steps = 7;
  spec.cfg = 4.5;
  spec.sampler = "euler_a";
  spec.spacing = "trailing";
  spec.seed = 1234567890123;
  spec.samples = 3;
  spec.loras = {{"c1", "/data/loras/c1.safetensors", 0.5, {{"class", "person"}}},
                {"style", "/models/loras/style.safetensors", 1.0, nlohmann::json::object()}};
  spec.init_image_path = "inputs/a.png";
  spec.mask_path = "inputs/m.png";
  spec.strength = 0.25;
  spec.format = "webp";
  spec.quality = 70;
  spec.micro.original_size = std::array<int, 2>{1024, 768};
  spec.micro.crop_top_left = std::array<int, 2>{0, 16};
  spec.negative_micro.target_size = std::array<int, 2>{512, 512};

  const auto back = JobSpec::from_json(nlohmann::json::parse(spec.to_json().dump()));
  EXPECT_EQ(back.to_json(), spec.to_json());
  EXPECT_EQ(back.seed, 1234567890123);
  ASSERT_EQ(back.loras.size(), 2u);
  EXPECT_EQ(back.loras[0].meta["class"], "person");
  EXPECT_DOUBLE_EQ(back.loras[0].weight, 0.5);
  EXPECT_EQ(back.format, "webp");
  EXPECT_EQ(back.micro.original_size, spec.micro.original_size);
  EXPECT_EQ(back.micro.crop_top_left, spec.micro.crop_top_left);
  EXPECT_FALSE(back.micro.target_size);
  EXPECT_EQ(back.negative_micro.target_size, spec.negative_micro.target_size);
}

TEST(JobSpecTest, MissingFieldsKeepDefaults) {
  const auto spec = JobSpec::from_json({{"prompt", "x"}, {"negative_prompt", nullptr}});
  EXPECT_EQ(spec.prompt, "x");
  EXPECT_EQ(spec.seed, -1);
  EXPECT_EQ(spec.samples, 1);
  EXPECT_EQ(spec.format, "png");
  EXPECT_LT(spec.cfg, 0);
}

TEST(JobSpecTest, WrongTypesNameTheField) {
  struct Case {
    nlohmann::json json;
    std::string field;
  };
  const std::vector<Case> cases = {
      {{{"width", "64"}}, "'width'"},
      {{{"width", 64.5}}, "'width'"},
      {{{"width", 1ll << 40}}, "'width'"},
      {{{"seed", 18446744073709551615ull}}, "'seed'"},
      {{{"cfg", "7"}}, "'cfg'"},
      {{{"prompt", 3}}, "'prompt'"},
      {{{"loras", "x"}}, "'loras'"},
      {{{"loras", {1}}}, "'loras[0]'"},
      {{{"loras", {{{"name", "a"}}, {{"weight", "heavy"}}}}}, "'loras[1].weight'"},
      {{{"loras", {{{"meta", 3}}}}}, "'loras[0].meta'"},
      {{{"micro", 3}}, "'micro'"},
      {{{"micro", {{"original_size", {1}}}}}, "'micro.original_size'"},
      {{{"negative_micro", {{"target_size", {1, "x"}}}}}, "'negative_micro.target_size'"},
      {{{"micro", {{"crop_top_left", {1, 1ll << 40}}}}}, "'micro.crop_top_left'"},
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
