// PackedLinear: a weight kept as stored (float8 e4m3fn / e5m2, bf16) or block-quantised (GGUF
// Q8_0) gives the output of a float32 Linear on the expanded weight; load_weights() attaches a
// source's packed weights and skips their empty placeholders.
#include <gtest/gtest.h>

#include <random>

#include "error_of.h"
#include "gguf_reference_quant.h"
#include "gguf_test_writer.h"
#include "models/gguf_weights.h"
#include "models/packed_linear.h"

namespace dd::models {
namespace {

using test::GgufWriter;
using W = GgufWriter;

TEST(PackedLinear, AWeightKeptIn8Or16BitsActsAsTheUpcastWeight) {
  torch::manual_seed(11);
  const torch::Tensor weight = torch::randn({16, 64}) * 0.1;
  const torch::Tensor bias = torch::randn({16});
  const torch::Tensor x = torch::randn({3, 5, 64});
  for (const auto dtype : {torch::kFloat8_e4m3fn, torch::kFloat8_e5m2, torch::kBFloat16}) {
    PackedLinear packed(64, 16);
    torch::NoGradGuard no_grad;
    packed->weight.set_data(weight.to(dtype));
    packed->bias.set_data(bias);
    torch::nn::Linear reference(64, 16);
    reference->weight.set_data(weight.to(dtype).to(torch::kFloat32));
    reference->bias.set_data(bias);
    EXPECT_EQ(packed->weight.scalar_type(), dtype);
    const torch::Tensor got = packed->forward(x);
    EXPECT_EQ(got.scalar_type(), torch::kFloat32);
    EXPECT_TRUE(torch::equal(got, reference->forward(x))) << dtype;
    // The rounding to the stored type is real (the test would pass trivially otherwise).
    EXPECT_FALSE(torch::equal(weight.to(dtype).to(torch::kFloat32), weight)) << dtype;
  }
}

// The float8 expansion goes through a lookup table (faster than Tensor::to): every one of the 256
// byte patterns of both float8 types, NaNs included, gives the bits Tensor::to gives, in bf16
// and float32, and the table is applied to every element of a matrix larger than one chunk.
TEST(PackedLinear, Float8ExpandsToTheSameBitsAsTensorTo) {
  const auto every_byte = torch::arange(256, torch::kInt32).to(torch::kUInt8).repeat({1000});
  for (const auto dtype : {torch::kFloat8_e4m3fn, torch::kFloat8_e5m2}) {
    PackedLinear packed(1000, 256);
    torch::NoGradGuard no_grad;
    packed->weight.set_data(every_byte.view(dtype).reshape({256, 1000}));
    for (const auto to : {torch::kBFloat16, torch::kFloat32}) {
      const auto got = packed->expanded_weight(to);
      const auto want = packed->weight.to(to);
      const auto bits = to == torch::kFloat32 ? torch::kInt32 : torch::kInt16;
      EXPECT_EQ(got.scalar_type(), to);
      EXPECT_TRUE(torch::equal(got.view(bits), want.view(bits))) << dtype << " -> " << to;
    }
  }
}

struct QuantisedFile {
  std::string path;
  test::Encoded weight, bias, scale;
};

// proj.weight as Q8_0 [4, 64] (or F16 when `quantised` is false), proj.bias and scale as F32.
QuantisedFile write_file(bool quantised) {
  std::mt19937 rng(5);
  QuantisedFile f;
  const auto values = test::random_values(rng, 4 * 64);
  f.weight = quantised ? test::encode_q8_0(values) : test::encode_f16(values);
  f.bias = test::encode_f32(test::random_values(rng, 4));
  f.scale = test::encode_f32(test::random_values(rng, 4));
  GgufWriter w;
  w.add_tensor("proj.weight", quantised ? 8 : 1, {64, 4}, f.weight.bytes);
  w.add_tensor("proj.bias", 0, {4}, f.bias.bytes);
  w.add_tensor("scale", 0, {4}, f.scale.bytes);
  f.path = w.write(quantised ? "dd_packed_q8.gguf" : "dd_packed_f16.gguf");
  return f;
}

TEST(PackedLinear, AQ8_0WeightActsAsTheExpandedWeight) {
  const auto f = write_file(true);
  GgufWeights source(std::make_shared<io::GgufFile>(f.path));
  PackedLinear packed(64, 4);
  packed->set_packed(source.packed("proj.weight"));
  {
    torch::NoGradGuard no_grad;
    packed->bias.set_data(source.get("proj.bias"));
  }
  EXPECT_TRUE(packed->is_packed());
  const torch::Tensor expanded = source.get("proj.weight");
  EXPECT_TRUE(torch::equal(expanded, torch::tensor(f.weight.values).view({4, 64})));
  const torch::Tensor x = torch::randn({2, 64});
  EXPECT_TRUE(torch::equal(packed->forward(x), torch::linear(x, expanded, packed->bias)));
  const torch::Tensor xb = x.to(torch::kBFloat16);
  const torch::Tensor got = packed->forward(xb);
  EXPECT_EQ(got.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(
      got, torch::linear(xb, expanded.to(torch::kBFloat16), packed->bias.to(torch::kBFloat16))));
  // A packed weight of another shape is refused.
  PackedLinear wrong(32, 4);
  EXPECT_NE(test::error_of([&] { wrong->set_packed(source.packed("proj.weight")); }), "");
}

struct TinyImpl : torch::nn::Module {
  TinyImpl() {
    proj = register_module("proj", PackedLinear(64, 4));
    scale = register_parameter("scale", torch::zeros({4}));
  }
  PackedLinear proj{nullptr};
  torch::Tensor scale;
};

TEST(PackedLinear, LoadWeightsAttachesPackedWeightsAndSkipsThePlaceholder) {
  const auto f = write_file(true);
  GgufWeights source(std::make_shared<io::GgufFile>(f.path));
  TinyImpl tiny;
  load_weights(tiny, source, "tiny");
  EXPECT_TRUE(tiny.proj->is_packed());
  EXPECT_EQ(tiny.proj->weight.numel(), 0);
  EXPECT_TRUE(torch::equal(tiny.proj->bias, torch::tensor(f.bias.values)));
  EXPECT_TRUE(torch::equal(tiny.scale, torch::tensor(f.scale.values)));
  EXPECT_TRUE(torch::equal(tiny.proj->expanded_weight(torch::kFloat32),
                           torch::tensor(f.weight.values).view({4, 64})));
  // Loading again keeps the packed weight and still skips the placeholder.
  load_weights(tiny, source, "tiny");
  EXPECT_TRUE(tiny.proj->is_packed());
}

TEST(PackedLinear, LoadWeightsFillsAnUnpackedWeightAsBefore) {
  const auto f = write_file(false);  // F16: not block-quantised, so not packed
  GgufWeights source(std::make_shared<io::GgufFile>(f.path));
  TinyImpl tiny;
  load_weights(tiny, source, "tiny");
  EXPECT_FALSE(tiny.proj->is_packed());
  EXPECT_TRUE(torch::equal(tiny.proj->weight, torch::tensor(f.weight.values).view({4, 64})));
}

TEST(PackedLinear, LoadWeightsNamesAPackedWeightOfTheWrongShape) {
  const auto f = write_file(true);
  GgufWeights source(std::make_shared<io::GgufFile>(f.path));
  struct Wrong : torch::nn::Module {
    Wrong() { register_module("proj", PackedLinear(32, 4)); }
  } wrong;
  const std::string message = test::error_of([&] { load_weights(wrong, source, "tiny"); });
  EXPECT_NE(message.find("tiny"), std::string::npos) << message;
  EXPECT_NE(message.find("proj.weight"), std::string::npos) << message;
}

}  // namespace
}  // namespace dd::models
