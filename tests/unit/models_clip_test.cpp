// The CLIP text encoders against every text_encoder case of the reference fixtures, with the
// weights loaded from the single-file checkpoint and from the diffusers folder.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "io/safetensors.h"
#include "models/clip_keys.h"
#include "models/clip_text.h"
#include "models/weights.h"
#include "test_support.h"
#include "util/error.h"

namespace dd::models {
namespace {

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  return nlohmann::json::parse(in);
}

// "text_encoder" -> 0, "text_encoder_2" -> 1, as the arch JSON lists them.
size_t encoder_index(const std::string& component) { return component == "text_encoder_2" ? 1 : 0; }

ClipTextModel load_encoder(const std::string& model, const std::string& component,
                           const std::string& layout) {
  const auto& fx = test::fixtures();
  if (layout == "single_file") {
    const std::string arch = fx.model_path(model, "arch");
    const auto encoders = model_config_from_arch_json(read_json(arch), arch).text_encoders;
    const ClipTextConfig& config = encoders.at(encoder_index(component));
    auto file = std::make_shared<io::SafetensorsFile>(fx.model_path(model, layout));
    ClipTextModel encoder(config);
    load_weights(*encoder, *clip_single_file_weights(file, config), component);
    return encoder;
  }
  const std::string dir = fx.model_path(model, layout) + "/" + component;
  const ClipTextConfig config = clip_config_from_transformers(read_json(dir + "/config.json"));
  auto file = std::make_shared<io::SafetensorsFile>(dir + "/model.safetensors");
  ClipTextModel encoder(config);
  load_weights(*encoder, FileWeights(file, ""), component);
  return encoder;
}

// Our output for an expected name of a text_encoder case.
torch::Tensor output_named(ClipTextModel& encoder, const TextEncoderOutput& out,
                           const std::string& name) {
  if (name == "last_hidden_state") return out.last_hidden_state;
  if (name == "hidden_states") return torch::stack(out.hidden_states);
  if (name == "penultimate") return out.penultimate();
  if (name == "pooler_output") return out.pooled;
  if (name == "text_embeds") return out.text_embeds;
  const std::string skip = "clip_skip_";
  if (name.rfind(skip, 0) == 0) return encoder->clip_skip(out, std::stoi(name.substr(skip.size())));
  return {};
}

void check_text_encoder_cases(const std::string& layout) {
  torch::NoGradGuard no_grad;
  int cases = 0;
  for (const auto& c : test::fixtures().cases()) {
    if (c.kind() != "text_encoder") continue;
    ++cases;
    const std::string component = c.spec().value("component", "text_encoder");
    SCOPED_TRACE(c.name() + " (" + layout + ", " + component + ")");
    auto encoder = load_encoder(c.model(), component, layout);
    const auto out = encoder->forward(c.input("input_ids"));
    ASSERT_EQ(out.hidden_states.size(), static_cast<size_t>(encoder->config().num_layers + 1));
    for (const auto& name : c.expected_names()) {
      const auto got = output_named(encoder, out, name);
      ASSERT_TRUE(got.defined()) << "no output for '" << name << "'";
      const auto expected = c.expected(name);
      ASSERT_EQ(got.sizes(), expected.sizes()) << name;
      const double diff = io::max_abs_diff(got, expected);
      EXPECT_LE(diff, c.tolerance(name)) << name;
      std::cout << "[ clip     ] " << c.name() << " " << layout << " " << name << ": max abs diff "
                << diff << " (atol " << c.tolerance(name) << ")\n";
    }
  }
  EXPECT_GT(cases, 0);
}

TEST(ClipFixtures, SingleFileMatchesReference) {
  DD_REQUIRE_FIXTURES();
  check_text_encoder_cases("single_file");
}

TEST(ClipFixtures, DiffusersFolderMatchesReference) {
  DD_REQUIRE_FIXTURES();
  check_text_encoder_cases("diffusers_dir");
}

ClipTextConfig small_config() {
  ClipTextConfig config;
  config.vocab_size = 100;
  config.max_positions = 8;
  config.hidden_size = 16;
  config.num_layers = 3;
  config.num_heads = 2;
  config.intermediate_size = 32;
  config.eos_id = 99;
  return config;
}

TEST(ClipText, CausalMaskHidesLaterTokens) {
  torch::NoGradGuard no_grad;
  ClipTextModel encoder(small_config());
  const auto a = torch::tensor({{1, 5, 7, 99, 99, 99}}, torch::kLong);
  const auto b = torch::tensor({{1, 5, 7, 99, 3, 4}}, torch::kLong);
  const auto out_a = encoder->forward(a), out_b = encoder->forward(b);
  using torch::indexing::Slice;
  EXPECT_TRUE(torch::allclose(out_a.last_hidden_state.index({Slice(), Slice(0, 4)}),
                              out_b.last_hidden_state.index({Slice(), Slice(0, 4)})));
  EXPECT_FALSE(torch::allclose(out_a.last_hidden_state, out_b.last_hidden_state));
  // Pooled at the first EOS (position 3), whatever follows it.
  EXPECT_TRUE(torch::equal(out_a.pooled[0], out_a.last_hidden_state[0][3]));
}

// Weights kept in a checkpoint's 16- or 8-bit type give exactly the float32 encoder's outputs:
// each layer upcasts them as it runs, and the activations stay float32.
TEST(ClipText, EightAndSixteenBitWeightsComputeInFloat32Exactly) {
  torch::NoGradGuard no_grad;
  const auto ids = torch::tensor({{1, 5, 7, 99}, {2, 3, 99, 99}}, torch::kLong);
  for (const auto storage :
       {torch::kHalf, torch::kBFloat16, torch::kFloat8_e4m3fn, torch::kFloat8_e5m2}) {
    torch::manual_seed(11);
    ClipTextModel reference(small_config());
    for (auto& param : reference->parameters()) param.copy_(param.to(storage));  // as stored
    torch::manual_seed(11);
    ClipTextModel kept(small_config());
    for (auto& param : kept->parameters()) param.copy_(param.to(storage));
    kept->to(storage);
    for (const auto& param : kept->parameters())
      EXPECT_EQ(param.scalar_type(), storage);  // kept as stored, not widened
    const auto want = reference->forward(ids), got = kept->forward(ids);
    EXPECT_EQ(got.last_hidden_state.scalar_type(), torch::kFloat32);
    EXPECT_TRUE(torch::equal(got.last_hidden_state, want.last_hidden_state));
    EXPECT_TRUE(torch::equal(got.penultimate(), want.penultimate()));
    EXPECT_TRUE(torch::equal(kept->clip_skip(got, 1), reference->clip_skip(want, 1)));
  }
}

TEST(ClipText, ClipSkipAndInputErrors) {
  torch::NoGradGuard no_grad;
  ClipTextModel encoder(small_config());
  const auto out = encoder->forward(torch::tensor({{1, 2, 99}}, torch::kLong));
  EXPECT_TRUE(torch::equal(encoder->clip_skip(out, 0), out.last_hidden_state));
  EXPECT_FALSE(torch::allclose(encoder->clip_skip(out, 1), out.penultimate()));
  EXPECT_THROW(encoder->clip_skip(out, 3), Error);
  EXPECT_THROW(encoder->forward(torch::tensor({{1, 100}}, torch::kLong)), Error);
  EXPECT_THROW(encoder->forward(torch::zeros({1, 9}, torch::kLong)), Error);
  EXPECT_THROW(encoder->forward(torch::zeros({1, 3}, torch::kFloat)), Error);
  EXPECT_FALSE(out.text_embeds.defined());
}

}  // namespace
}  // namespace dd::models
