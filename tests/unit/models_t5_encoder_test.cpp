// The T5 v1.1 encoder (FLUX's text_encoder_2) against the FLUX fixtures' te_t5 case: relative
// position buckets (exact), position bias, per-layer hidden states and last_hidden_state, with
// the weights kept as loaded, in bfloat16 and in float8; plus the key layouts and input checks.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "error_of.h"
#include "io/safetensors.h"
#include "io/tensor_file.h"
#include "models/t5_config.h"
#include "models/t5_encoder.h"
#include "models/t5_keys.h"
#include "models/weights.h"
#include "test_support.h"
#include "util/error.h"

namespace dd::models {
namespace {

const io::FixtureCase& te_t5() { return test::flux_fixtures().at("te_t5"); }

// <diffusers_dir>/text_encoder_2 of the te_t5 case's model.
std::string encoder_dir() {
  const auto& c = te_t5();
  const std::string component = c.spec().value("component", "text_encoder_2");
  return test::flux_fixtures().model_path(c.model(), "diffusers_dir") + "/" + component;
}

T5Config fixture_config() {
  std::ifstream in(encoder_dir() + "/config.json");
  EXPECT_TRUE(in) << encoder_dir();
  return t5_config_from_transformers(nlohmann::json::parse(in));
}

std::shared_ptr<io::SafetensorsFile> fixture_file() {
  return std::make_shared<io::SafetensorsFile>(encoder_dir() + "/model.safetensors");
}

// Weights as stored (float16 here) converted to `dtype` after the float32 load.
T5Encoder load_encoder(torch::ScalarType dtype = torch::kFloat32) {
  T5Encoder encoder(fixture_config());
  auto file = fixture_file();
  load_weights(*encoder, *t5_encoder_weights(file, t5_key_prefix(*file)), "text_encoder_2");
  if (dtype != torch::kFloat32) encoder->to(dtype);
  return encoder;
}

double mean_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().mean().item<double>();
}

double report(const std::string& what, const torch::Tensor& got, const torch::Tensor& expected) {
  EXPECT_EQ(got.sizes(), expected.sizes()) << what;
  const double diff = io::max_abs_diff(got, expected);
  std::cout << "[ t5       ] " << what << ": max abs diff " << diff << ", mean "
            << mean_abs_diff(got, expected) << "\n";
  return diff;
}

TEST(T5Config, ReadsTheFixtureConfig) {
  DD_REQUIRE_FLUX_FIXTURES();
  const T5Config c = fixture_config();
  EXPECT_EQ(c.vocab_size, 384);
  EXPECT_EQ(c.d_model, 64);
  EXPECT_EQ(c.d_kv, 8);
  EXPECT_EQ(c.d_ff, 96);
  EXPECT_EQ(c.num_layers, 3);
  EXPECT_EQ(c.num_heads, 4);
  EXPECT_EQ(c.inner_dim(), 32);
  EXPECT_EQ(c.relative_attention_num_buckets, 32);
  EXPECT_EQ(c.relative_attention_max_distance, 128);
  EXPECT_DOUBLE_EQ(c.layer_norm_epsilon, 1e-6);
}

TEST(T5Config, RefusesWhatItCannotBuild) {
  nlohmann::json config = {{"vocab_size", 384}, {"d_model", 64},   {"d_kv", 8},
                           {"d_ff", 96},        {"num_layers", 3}, {"num_heads", 4}};
  // transformers' default feed-forward is the original T5's ungated ReLU.
  EXPECT_NE(test::error_of([&] { t5_config_from_transformers(config); }).find("'relu'"),
            std::string::npos);
  config["feed_forward_proj"] = "gated-gelu";
  EXPECT_EQ(t5_config_from_transformers(config).d_ff, 96);
  config.erase("d_kv");
  EXPECT_NE(test::error_of([&] { t5_config_from_transformers(config); }).find("'d_kv'"),
            std::string::npos);
  config["d_kv"] = 0;
  EXPECT_NE(test::error_of([&] { t5_config_from_transformers(config); }).find("d_kv"),
            std::string::npos);
}

TEST(T5Encoder, RelativePositionBucketsAreExact) {
  DD_REQUIRE_FLUX_FIXTURES();
  const auto& c = te_t5();
  const T5Config config = fixture_config();
  const auto got = t5_relative_position_bucket(c.input("relative_positions"), true,
                                               config.relative_attention_num_buckets,
                                               config.relative_attention_max_distance);
  EXPECT_TRUE(torch::equal(got, c.expected("relative_position_bucket_range")));

  const int64_t length = c.input("input_ids").size(1);
  const auto positions = torch::arange(length);
  const auto grid = t5_relative_position_bucket(positions.unsqueeze(0) - positions.unsqueeze(1),
                                                true, config.relative_attention_num_buckets,
                                                config.relative_attention_max_distance);
  EXPECT_TRUE(torch::equal(grid, c.debug("relative_position_bucket")));
}

TEST(T5Encoder, UnidirectionalBucketsIgnoreLaterKeys) {
  const auto got =
      t5_relative_position_bucket(torch::tensor({-200, -20, -3, 0, 5}), false, 32, 128);
  // 16 exact buckets, then log-spaced: 20 -> 16 + int(ln(20/16) / ln(8) * 16) = 17.
  EXPECT_TRUE(torch::equal(got, torch::tensor({31, 17, 3, 0, 0})));
}

TEST(T5Encoder, MatchesTheReference) {
  DD_REQUIRE_FLUX_FIXTURES();
  torch::NoGradGuard no_grad;
  const auto& c = te_t5();
  auto encoder = load_encoder();
  const auto ids = c.input("input_ids");
  const auto out = encoder->forward(ids, /*keep_hidden_states=*/true);

  const double atol = c.tolerance("last_hidden_state");
  EXPECT_EQ(out.last_hidden_state.scalar_type(), torch::kFloat32);
  EXPECT_LE(report("last_hidden_state", out.last_hidden_state, c.expected("last_hidden_state")),
            atol);
  ASSERT_EQ(out.hidden_states.size(), static_cast<size_t>(encoder->config().num_layers + 1));
  EXPECT_LE(report("hidden_states", torch::stack(out.hidden_states), c.debug("hidden_states")),
            atol);
  // The bias is a table lookup of float16-exact values: equal up to float32 rounding (none).
  EXPECT_LE(report("position_bias", encoder->position_bias(ids.size(1)), c.debug("position_bias")),
            1e-7);
}

// Weights kept in bfloat16, then the matmuls run in bfloat16 too. This random model is touchy
// (unscaled attention sharpens the softmax): bf16 rounding of the weights alone moves the
// outputs (max |value| 3.5) by 0.07 at most and 0.01 on average, bf16 matmuls by 0.12 / 0.014;
// the bounds leave 2x. A wrong wiring moves them by O(1).
TEST(T5Encoder, Bfloat16WeightsAndComputeStayClose) {
  DD_REQUIRE_FLUX_FIXTURES();
  torch::NoGradGuard no_grad;
  const auto& c = te_t5();
  const auto expected = c.expected("last_hidden_state");
  auto encoder = load_encoder(torch::kBFloat16);
  EXPECT_EQ(
      encoder->named_parameters()["encoder.block.1.layer.1.DenseReluDense.wo.weight"].scalar_type(),
      torch::kBFloat16);
  const auto weights_only = encoder->forward(c.input("input_ids")).last_hidden_state;
  EXPECT_LE(report("bf16 weights, f32 compute", weights_only, expected), 0.15);
  EXPECT_LE(mean_abs_diff(weights_only, expected), 0.02);

  encoder->set_compute_dtype(torch::kBFloat16);
  const auto out = encoder->forward(c.input("input_ids")).last_hidden_state;
  EXPECT_EQ(out.scalar_type(), torch::kFloat32);
  EXPECT_LE(report("bf16 weights, bf16 compute", out, expected), 0.25);
  EXPECT_LE(mean_abs_diff(out, expected), 0.03);
}

// Weights kept in float8 (as t5xxl_fp8_e4m3fn stores them) give exactly what float32 weights
// with the same values give: only the storage differs, rows and layers are upcast on use.
TEST(T5Encoder, Float8WeightsMatchTheirFloat32Values) {
  DD_REQUIRE_FLUX_FIXTURES();
  torch::NoGradGuard no_grad;
  const auto ids = te_t5().input("input_ids");
  auto fp8 = load_encoder(torch::kFloat8_e4m3fn);
  auto rounded = load_encoder(torch::kFloat8_e4m3fn);
  rounded->to(torch::kFloat32);
  const auto got = fp8->forward(ids).last_hidden_state;
  EXPECT_TRUE(torch::equal(got, rounded->forward(ids).last_hidden_state));
  // And fp8 rounding really happened (else the test above proves nothing).
  EXPECT_GT(io::max_abs_diff(got, te_t5().expected("last_hidden_state")), 1e-3);
}

// An all-in-one checkpoint's layout: ComfyUI's prefix, the embedding as encoder.embed_tokens.
TEST(T5Keys, ReadsPrefixedFilesWithEmbedTokens) {
  DD_REQUIRE_FLUX_FIXTURES();
  torch::NoGradGuard no_grad;
  auto original = fixture_file();
  io::NamedTensors tensors;
  const std::string prefix = "text_encoders.t5xxl.transformer.";
  for (const auto& entry : original->entries()) {
    const std::string name =
        entry.name == "shared.weight" ? "encoder.embed_tokens.weight" : entry.name;
    tensors.emplace_back(prefix + name, io::load_tensor(*original, entry));
  }
  tensors.emplace_back("model.diffusion_model.img_in.weight", torch::zeros({2, 2}));
  const auto path =
      (std::filesystem::temp_directory_path() / "dd_t5_prefixed.safetensors").string();
  io::save_safetensors(path, tensors);
  auto file = std::make_shared<io::SafetensorsFile>(path);
  ASSERT_EQ(t5_key_prefix(*file), prefix);
  T5Encoder encoder(fixture_config());
  load_weights(*encoder, *t5_encoder_weights(file, prefix), "text_encoder_2");
  const auto ids = te_t5().input("input_ids");
  EXPECT_TRUE(torch::equal(encoder->forward(ids).last_hidden_state,
                           load_encoder()->forward(ids).last_hidden_state));
  std::filesystem::remove(path);
}

TEST(T5Keys, RefusesFilesWithoutAnEncoderOrWithScaledFp8) {
  const auto dir = std::filesystem::temp_directory_path();
  const auto none = (dir / "dd_t5_none.safetensors").string();
  io::save_safetensors(none, {{"img_in.weight", torch::zeros({2, 2})}});
  EXPECT_NE(test::error_of([&] { t5_key_prefix(io::SafetensorsFile(none)); }).find("no T5 encoder"),
            std::string::npos);
  const auto scaled = (dir / "dd_t5_scaled.safetensors").string();
  io::save_safetensors(scaled, {{"encoder.final_layer_norm.weight", torch::ones({4})},
                                {"scaled_fp8", torch::zeros({0})}});
  EXPECT_NE(test::error_of([&] { t5_key_prefix(io::SafetensorsFile(scaled)); }).find("scaled fp8"),
            std::string::npos);
  std::filesystem::remove(none);
  std::filesystem::remove(scaled);
}

// A source whose q projection of layer 1 is stored transposed ([d_model, inner]).
class TransposedQ : public WeightSource {
 public:
  explicit TransposedQ(std::unique_ptr<WeightSource> inner) : inner_(std::move(inner)) {}
  torch::Tensor get(const std::string& name) const override {
    auto t = inner_->get(name);
    return name == kName ? t.t().contiguous() : t;
  }
  bool has(const std::string& name) const override { return inner_->has(name); }
  static constexpr const char* kName = "encoder.block.1.layer.0.SelfAttention.q.weight";

 private:
  std::unique_ptr<WeightSource> inner_;
};

TEST(T5Encoder, WrongShapedTensorIsAnError) {
  DD_REQUIRE_FLUX_FIXTURES();
  T5Encoder encoder(fixture_config());
  TransposedQ source(t5_encoder_weights(fixture_file()));
  const auto message = test::error_of([&] { load_weights(*encoder, source, "text_encoder_2"); });
  EXPECT_NE(message.find(TransposedQ::kName), std::string::npos) << message;
  EXPECT_NE(message.find("[64, 32]"), std::string::npos) << message;
}

TEST(T5Encoder, BadInputsAreErrors) {
  T5Config config;
  config.vocab_size = 10;
  config.d_model = 8;
  config.d_kv = 2;
  config.d_ff = 12;
  config.num_layers = 1;
  config.num_heads = 2;
  T5Encoder encoder(config);
  torch::NoGradGuard no_grad;
  for (auto& p : encoder->parameters()) p.normal_();
  EXPECT_EQ(encoder->forward(torch::tensor({{1, 2, 3}})).last_hidden_state.sizes(),
            (std::vector<int64_t>{1, 3, 8}));
  EXPECT_NE(test::error_of([&] {
              encoder->forward(torch::tensor({{1, 10}}));
            }).find("token id 10"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] {
              encoder->forward(torch::tensor({{-1, 1}}));
            }).find("token id -1"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] {
              encoder->forward(torch::tensor({1, 2}));
            }).find("[B, L]"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { encoder->forward(torch::tensor({{1.0f}})); }).find("int64"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { encoder->set_compute_dtype(torch::kHalf); }).find("bfloat16"),
            std::string::npos);
}

}  // namespace
}  // namespace dd::models
