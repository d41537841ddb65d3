// GgufWeights: tensors of a GGUF file by canonical name (with a prefix and a rename), expanded
// to float32 in the PyTorch shape; quantised matrices handed out as PackedWeights that expand
// to the same values and keep the file alive; llama.cpp's T5 names for transformers' ones.
#include <gtest/gtest.h>

#include <random>

#include "error_of.h"
#include "gguf_reference_quant.h"
#include "gguf_test_writer.h"
#include "models/gguf_weights.h"

namespace dd::models {
namespace {

using test::GgufWriter;
using W = GgufWriter;

constexpr uint32_t kF32 = 0, kF16 = 1, kQ8_0 = 8, kQ4_K = 12;

struct FluxLikeFile {
  std::string path;
  test::Encoded qkv, proj, bias, norm, flat;
};

// A few FLUX-like tensors: a Q8_0 [4, 64] matrix, a Q4_K [2, 256] one, an F32 bias, an F16
// norm scale, a Q8_0 vector, and a float32 tensor stored flat with its original shape recorded.
FluxLikeFile write_flux_like(const std::string& prefix = "") {
  std::mt19937 rng(7);
  FluxLikeFile f;
  f.qkv = test::encode_q8_0(test::random_values(rng, 4 * 64));
  f.proj = test::encode_k_quant(rng, 2 * 256, 4);
  f.bias = test::encode_f32(test::random_values(rng, 4));
  f.norm = test::encode_f16(test::random_values(rng, 64));
  f.flat = test::encode_f32(test::random_values(rng, 128));
  GgufWriter w;
  w.add_kv("comfy.gguf.orig_shape." + prefix + "flat", W::ARRAY,
           W::array(W::I32, 3, W::le<int32_t>(2) + W::le<int32_t>(4) + W::le<int32_t>(16)));
  w.add_tensor(prefix + "double_blocks.0.img_attn.qkv.weight", kQ8_0, {64, 4}, f.qkv.bytes);
  w.add_tensor(prefix + "double_blocks.0.img_attn.qkv.bias", kF32, {4}, f.bias.bytes);
  w.add_tensor(prefix + "double_blocks.0.img_attn.norm.query_norm.scale", kF16, {64}, f.norm.bytes);
  w.add_tensor(prefix + "final_layer.linear.weight", kQ4_K, {256, 2}, f.proj.bytes);
  w.add_tensor(prefix + "vector", kQ8_0, {64}, f.qkv.bytes.substr(0, 68));
  w.add_tensor(prefix + "flat", kF32, {64, 2}, f.flat.bytes);
  f.path = w.write("dd_models_gguf_flux_like.gguf");
  return f;
}

torch::Tensor as_tensor(const test::Encoded& e, std::vector<int64_t> shape) {
  return torch::tensor(e.values).view(shape);
}

TEST(GgufWeights, GetExpandsToFloat32InThePyTorchShape) {
  const auto f = write_flux_like();
  GgufWeights source(std::make_shared<io::GgufFile>(f.path));
  const torch::Tensor qkv = source.get("double_blocks.0.img_attn.qkv.weight");
  EXPECT_EQ(qkv.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(qkv, as_tensor(f.qkv, {4, 64})));
  EXPECT_TRUE(torch::equal(source.get("final_layer.linear.weight"), as_tensor(f.proj, {2, 256})));
  EXPECT_TRUE(
      torch::equal(source.get("double_blocks.0.img_attn.qkv.bias"), as_tensor(f.bias, {4})));
  EXPECT_TRUE(torch::equal(source.get("double_blocks.0.img_attn.norm.query_norm.scale"),
                           as_tensor(f.norm, {64})));
  // Stored flat by the converter, with its shape in the metadata.
  EXPECT_TRUE(torch::equal(source.get("flat"), as_tensor(f.flat, {2, 4, 16})));
  EXPECT_TRUE(source.has("vector"));
  EXPECT_FALSE(source.has("absent.weight"));
  const std::string message = test::error_of([&] { source.get("absent.weight"); });
  EXPECT_NE(message.find("absent.weight"), std::string::npos) << message;
  EXPECT_NE(message.find(f.path), std::string::npos) << message;
}

TEST(GgufWeights, PackedOnlyForQuantisedMatrices) {
  const auto f = write_flux_like();
  GgufWeights source(std::make_shared<io::GgufFile>(f.path));
  EXPECT_NE(source.packed("double_blocks.0.img_attn.qkv.weight"), nullptr);
  EXPECT_NE(source.packed("final_layer.linear.weight"), nullptr);
  EXPECT_EQ(source.packed("double_blocks.0.img_attn.qkv.bias"), nullptr);               // F32
  EXPECT_EQ(source.packed("double_blocks.0.img_attn.norm.query_norm.scale"), nullptr);  // F16
  EXPECT_EQ(source.packed("vector"), nullptr);                                          // 1-D
  EXPECT_EQ(source.packed("absent.weight"), nullptr);
}

TEST(GgufWeights, APackedWeightExpandsToTheValuesAndOutlivesItsSource) {
  const auto f = write_flux_like();
  std::shared_ptr<const PackedWeight> q8, q4;
  {
    GgufWeights source(std::make_shared<io::GgufFile>(f.path));
    q8 = source.packed("double_blocks.0.img_attn.qkv.weight");
    q4 = source.packed("final_layer.linear.weight");
  }
  ASSERT_NE(q8, nullptr);
  EXPECT_EQ(q8->shape(), (std::vector<int64_t>{4, 64}));
  EXPECT_EQ(q8->format(), "Q8_0");
  EXPECT_EQ(q8->stored_bytes(), 4 * 2 * 34);
  EXPECT_EQ(q4->format(), "Q4_K");
  EXPECT_EQ(q4->stored_bytes(), 2 * 144);
  const torch::Tensor want = as_tensor(f.qkv, {4, 64});
  EXPECT_TRUE(torch::equal(q8->expand(torch::kFloat32), want));
  const torch::Tensor bf16 = q8->expand(torch::kBFloat16);
  EXPECT_EQ(bf16.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(bf16, want.to(torch::kBFloat16)));
  EXPECT_TRUE(torch::equal(q8->expand(torch::kHalf), want.to(torch::kHalf)));
  EXPECT_TRUE(torch::equal(q4->expand(torch::kFloat32), as_tensor(f.proj, {2, 256})));
}

TEST(GgufWeights, PrefixAndRename) {
  const auto f = write_flux_like("model.diffusion_model.");
  const auto rename = [](const std::string& name) {
    return name == "proj.weight" ? std::string("final_layer.linear.weight") : name;
  };
  GgufWeights source(std::make_shared<io::GgufFile>(f.path), "model.diffusion_model.", rename);
  EXPECT_EQ(source.stored_key("proj.weight"), "model.diffusion_model.final_layer.linear.weight");
  EXPECT_TRUE(torch::equal(source.get("proj.weight"), as_tensor(f.proj, {2, 256})));
  EXPECT_NE(source.packed("proj.weight"), nullptr);
  EXPECT_TRUE(source.has("vector"));
}

TEST(GgufWeights, T5NamesMapToLlamaCppNames) {
  const std::pair<const char*, const char*> cases[] = {
      {"shared.weight", "token_embd.weight"},
      {"encoder.embed_tokens.weight", "token_embd.weight"},
      {"encoder.block.0.layer.0.SelfAttention.q.weight", "enc.blk.0.attn_q.weight"},
      {"encoder.block.7.layer.0.SelfAttention.k.weight", "enc.blk.7.attn_k.weight"},
      {"encoder.block.23.layer.0.SelfAttention.v.weight", "enc.blk.23.attn_v.weight"},
      {"encoder.block.3.layer.0.SelfAttention.o.weight", "enc.blk.3.attn_o.weight"},
      {"encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
       "enc.blk.0.attn_rel_b.weight"},
      {"encoder.block.5.layer.0.layer_norm.weight", "enc.blk.5.attn_norm.weight"},
      {"encoder.block.5.layer.1.DenseReluDense.wi_0.weight", "enc.blk.5.ffn_gate.weight"},
      {"encoder.block.5.layer.1.DenseReluDense.wi_1.weight", "enc.blk.5.ffn_up.weight"},
      {"encoder.block.5.layer.1.DenseReluDense.wi.weight", "enc.blk.5.ffn_up.weight"},
      {"encoder.block.5.layer.1.DenseReluDense.wo.weight", "enc.blk.5.ffn_down.weight"},
      {"encoder.block.5.layer.1.layer_norm.weight", "enc.blk.5.ffn_norm.weight"},
      {"encoder.final_layer_norm.weight", "enc.output_norm.weight"},
      {"encoder.block.5.layer.1.SelfAttention.q.weight",
       "encoder.block.5.layer.1.SelfAttention.q.weight"},  // no such layer: kept
      {"something.else", "something.else"},
  };
  for (const auto& [hf, gguf] : cases) EXPECT_EQ(t5_gguf_key(hf), gguf) << hf;
}

TEST(GgufWeights, AT5FileReadsByTransformersNames) {
  std::mt19937 rng(3);
  const auto gate = test::encode_q8_0(test::random_values(rng, 8 * 32));
  const auto norm = test::encode_f32(test::random_values(rng, 32));
  GgufWriter w;
  w.add_kv("general.architecture", W::STRING, W::str("t5encoder"));
  w.add_tensor("enc.blk.1.ffn_gate.weight", kQ8_0, {32, 8}, gate.bytes);
  w.add_tensor("enc.output_norm.weight", kF32, {32}, norm.bytes);
  GgufWeights source(std::make_shared<io::GgufFile>(w.write("dd_models_gguf_t5.gguf")), "",
                     t5_gguf_key);
  EXPECT_TRUE(torch::equal(source.get("encoder.block.1.layer.1.DenseReluDense.wi_0.weight"),
                           as_tensor(gate, {8, 32})));
  EXPECT_TRUE(torch::equal(source.get("encoder.final_layer_norm.weight"), as_tensor(norm, {32})));
  EXPECT_NE(source.packed("encoder.block.1.layer.1.DenseReluDense.wi_0.weight"), nullptr);
  EXPECT_FALSE(source.has("encoder.block.1.layer.1.DenseReluDense.wo.weight"));
}

}  // namespace
}  // namespace dd::models
