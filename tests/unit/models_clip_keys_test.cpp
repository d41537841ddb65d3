// Single-file names of the CLIP text encoders: OpenCLIP's fused q|k|v and transposed projection,
// coverage of the fixtures' checkpoints, and the error a missing tensor gives.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "io/safetensors.h"
#include "io/tensor_file.h"
#include "models/clip_keys.h"
#include "models/clip_text.h"
#include "test_support.h"
#include "util/error.h"

namespace dd::models {
namespace {

namespace fs = std::filesystem;

// The stored key(s) a transformers name reads, whichever layout.
std::string stored_key(const WeightSource& source, const ClipTextConfig& config,
                       const std::string& name) {
  if (config.single_file_layout == TextLayout::OpenClip)
    return dynamic_cast<const OpenClipWeights&>(source).stored(name).key;
  return dynamic_cast<const FileWeights&>(source).stored_key(name);
}

// Every text-encoder tensor of the single files of the models the text_encoder cases use is
// read, and every parameter is found.
TEST(ClipKeys, CoverEveryStoredTensorOfTheSingleFiles) {
  DD_REQUIRE_FIXTURES();
  const auto& fx = test::fixtures();
  std::set<std::string> models;
  for (const auto& c : fx.cases())
    if (c.kind() == "text_encoder") models.insert(c.model());
  int encoders = 0;
  for (const auto& model : models) {
    std::ifstream arch_in(fx.model_path(model, "arch"));
    const auto configs =
        model_config_from_arch_json(nlohmann::json::parse(arch_in), model).text_encoders;
    auto file = std::make_shared<io::SafetensorsFile>(fx.model_path(model, "single_file"));
    for (const auto& config : configs) {
      SCOPED_TRACE(model + " " + config.single_file_prefix);
      ++encoders;
      std::set<std::string> stored;
      for (const auto& e : file->entries())
        if (e.name.rfind(config.single_file_prefix, 0) == 0) stored.insert(e.name);
      const auto source = clip_single_file_weights(file, config);
      ClipTextModel encoder(config);
      std::set<std::string> read;
      for (const auto& p : encoder->named_parameters()) {
        EXPECT_TRUE(source->has(p.key())) << p.key();
        read.insert(stored_key(*source, config, p.key()));
      }
      EXPECT_EQ(read, stored);
    }
  }
  EXPECT_GT(encoders, 0);
}

class OpenClipFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("dd_clip_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(OpenClipFile, SlicesFusedQkvAndTransposesProjection) {
  const int hidden = 4;
  const auto in_proj = torch::arange(3 * hidden * hidden, torch::kFloat).view({3 * hidden, hidden});
  const auto in_bias = torch::arange(3 * hidden, torch::kFloat);
  const auto projection = torch::arange(hidden * 6, torch::kFloat).view({hidden, 6});
  const std::string path = (dir_ / "openclip.safetensors").string();
  io::save_safetensors(path, {{"m.transformer.resblocks.2.attn.in_proj_weight", in_proj},
                              {"m.transformer.resblocks.2.attn.in_proj_bias", in_bias},
                              {"m.text_projection", projection},
                              {"m.positional_embedding", torch::ones({7, hidden})}});
  OpenClipWeights weights(std::make_shared<io::SafetensorsFile>(path), "m.");
  const std::string layer = "text_model.encoder.layers.2.self_attn.";
  EXPECT_TRUE(torch::equal(weights.get(layer + "q_proj.weight"), in_proj.slice(0, 0, hidden)));
  EXPECT_TRUE(
      torch::equal(weights.get(layer + "k_proj.weight"), in_proj.slice(0, hidden, 2 * hidden)));
  EXPECT_TRUE(torch::equal(weights.get(layer + "v_proj.bias"), in_bias.slice(0, 2 * hidden)));
  EXPECT_TRUE(torch::equal(weights.get("text_projection.weight"), projection.t()));
  EXPECT_TRUE(weights.has("text_model.embeddings.position_embedding.weight"));
  EXPECT_FALSE(weights.has("text_model.final_layer_norm.weight"));
  EXPECT_EQ(weights.stored("text_model.encoder.layers.0.mlp.fc2.bias").key,
            "m.transformer.resblocks.0.mlp.c_proj.bias");
  EXPECT_EQ(weights.stored("text_model.encoder.layers.1.layer_norm1.weight").key,
            "m.transformer.resblocks.1.ln_1.weight");
  EXPECT_THROW(weights.stored("text_model.encoder.layers.1.unknown.weight"), Error);
}

TEST_F(OpenClipFile, MissingTensorIsNamed) {
  ClipTextConfig config;
  config.vocab_size = 50;
  config.max_positions = 8;
  config.hidden_size = 8;
  config.num_layers = 2;
  config.num_heads = 2;
  config.intermediate_size = 16;
  config.projection_dim = 8;
  config.single_file_layout = TextLayout::OpenClip;
  config.single_file_prefix = "conditioner.embedders.1.model.";

  // A complete OpenCLIP tower written from a model, minus layer 1's fused projection.
  ClipTextModel source(config);
  const auto params = source->named_parameters();
  const std::string p = config.single_file_prefix;
  io::NamedTensors tensors{
      {p + "token_embedding.weight", params["text_model.embeddings.token_embedding.weight"]},
      {p + "positional_embedding", params["text_model.embeddings.position_embedding.weight"]},
      {p + "ln_final.weight", params["text_model.final_layer_norm.weight"]},
      {p + "ln_final.bias", params["text_model.final_layer_norm.bias"]},
      {p + "text_projection", params["text_projection.weight"].t()}};
  for (int i = 0; i < config.num_layers; ++i) {
    const std::string hf = "text_model.encoder.layers." + std::to_string(i) + ".";
    const std::string oc = p + "transformer.resblocks." + std::to_string(i) + ".";
    for (const char* kind : {"weight", "bias"}) {
      const std::string k = kind;
      if (i != 1 || k != "weight")
        tensors.emplace_back(
            oc + "attn.in_proj_" + k,
            torch::cat({params[hf + "self_attn.q_proj." + k], params[hf + "self_attn.k_proj." + k],
                        params[hf + "self_attn.v_proj." + k]}));
      tensors.emplace_back(oc + "attn.out_proj." + k, params[hf + "self_attn.out_proj." + k]);
      tensors.emplace_back(oc + "ln_1." + k, params[hf + "layer_norm1." + k]);
      tensors.emplace_back(oc + "ln_2." + k, params[hf + "layer_norm2." + k]);
      tensors.emplace_back(oc + "mlp.c_fc." + k, params[hf + "mlp.fc1." + k]);
      tensors.emplace_back(oc + "mlp.c_proj." + k, params[hf + "mlp.fc2." + k]);
    }
  }
  const std::string path = (dir_ / "te2.safetensors").string();
  io::save_safetensors(path, tensors);

  ClipTextModel target(config);
  try {
    load_weights(*target,
                 *clip_single_file_weights(std::make_shared<io::SafetensorsFile>(path), config),
                 "text_encoder_2");
    FAIL() << "loading without layer 1's in_proj_weight succeeded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(p + "transformer.resblocks.1.attn.in_proj_weight"),
              std::string::npos)
        << e.what();
  }

  // With the tensor present, the loaded tower computes what the source model computes.
  const std::string hf1 = "text_model.encoder.layers.1.self_attn.";
  tensors.emplace_back(p + "transformer.resblocks.1.attn.in_proj_weight",
                       torch::cat({params[hf1 + "q_proj.weight"], params[hf1 + "k_proj.weight"],
                                   params[hf1 + "v_proj.weight"]}));
  io::save_safetensors(path, tensors);
  load_weights(*target,
               *clip_single_file_weights(std::make_shared<io::SafetensorsFile>(path), config),
               "text_encoder_2");
  torch::NoGradGuard no_grad;
  const auto ids = torch::tensor({{49 - 3, 4, 7, 9}}, torch::kLong);
  const auto want = source->forward(ids), got = target->forward(ids);
  EXPECT_TRUE(torch::equal(got.last_hidden_state, want.last_hidden_state));
  EXPECT_TRUE(torch::equal(got.text_embeds, want.text_embeds));
}

}  // namespace
}  // namespace dd::models
