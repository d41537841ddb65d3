// GGUF files written by the tests' own writer, with tensors of every type diffusiond expands
// encoded by reference encoders from the formats' definitions: the reader finds them where
// they are, and every value expands exactly as the definition says (float32, and rounded once
// to bf16 and fp16). Metadata of every type reads back; versions 2 and 3 and other alignments.
#include <gtest/gtest.h>

#include <random>

#include "error_of.h"
#include "gguf_reference_quant.h"
#include "gguf_test_writer.h"
#include "io/gguf.h"

namespace dd::io {
namespace {

using test::Encoded;
using test::GgufWriter;

struct Case {
  const char* name;
  GgmlType type;
  std::vector<uint64_t> ne;
  Encoded encoded;
};

// One tensor of every expandable type. The K-quant one has enough super-blocks (512) to be
// split over several threads.
std::vector<Case> every_type() {
  std::mt19937 rng(1234);
  const auto values = [&](size_t n) { return test::random_values(rng, n); };
  std::vector<Case> cases;
  cases.push_back({"f32", GgmlType::F32, {300, 2}, test::encode_f32(values(600))});
  cases.push_back({"f16", GgmlType::F16, {300, 2}, test::encode_f16(values(600))});
  cases.push_back({"bf16", GgmlType::BF16, {300, 2}, test::encode_bf16(values(600))});
  cases.push_back({"q8_0", GgmlType::Q8_0, {4096, 2}, test::encode_q8_0(values(8192))});
  cases.push_back(
      {"q4_0", GgmlType::Q4_0, {64, 3}, test::encode_small_blocks(values(192), 4, false)});
  cases.push_back(
      {"q4_1", GgmlType::Q4_1, {64, 3}, test::encode_small_blocks(values(192), 4, true)});
  cases.push_back(
      {"q5_0", GgmlType::Q5_0, {64, 3}, test::encode_small_blocks(values(192), 5, false)});
  cases.push_back(
      {"q5_1", GgmlType::Q5_1, {64, 3}, test::encode_small_blocks(values(192), 5, true)});
  cases.push_back({"q4_k", GgmlType::Q4_K, {2048, 64}, test::encode_k_quant(rng, 2048 * 64, 4)});
  cases.push_back({"q5_k", GgmlType::Q5_K, {512, 3}, test::encode_k_quant(rng, 1536, 5)});
  cases.push_back({"q6_k", GgmlType::Q6_K, {512, 3}, test::encode_q6_k(rng, 1536)});
  return cases;
}

std::string write_every_type(const std::vector<Case>& cases, uint32_t version, uint64_t alignment,
                             const std::string& file_name) {
  GgufWriter writer;
  writer.version = version;
  writer.alignment = alignment;
  if (alignment != 32)
    writer.add_kv("general.alignment", GgufWriter::U32, GgufWriter::le<uint32_t>(alignment));
  for (const auto& c : cases)
    writer.add_tensor(c.name, static_cast<uint32_t>(c.type), c.ne, c.encoded.bytes);
  return writer.write(file_name);
}

void expect_every_value(const GgufFile& file, const Case& c) {
  const GgufTensor& t = file.at(c.name);
  EXPECT_EQ(t.type, c.type) << c.name;
  EXPECT_EQ(t.shape(), (std::vector<int64_t>(c.ne.rbegin(), c.ne.rend()))) << c.name;
  EXPECT_EQ(t.bytes, c.encoded.bytes.size()) << c.name;
  const int64_t n = t.numel();
  ASSERT_EQ(n, static_cast<int64_t>(c.encoded.values.size())) << c.name;
  std::vector<float> got(n);
  std::vector<c10::BFloat16> got_bf16(n);
  std::vector<c10::Half> got_f16(n);
  dequantize(t.type, file.data(t), n, got.data());
  dequantize(t.type, file.data(t), n, got_bf16.data());
  dequantize(t.type, file.data(t), n, got_f16.data());
  int mismatches = 0;
  for (int64_t i = 0; i < n && mismatches < 5; ++i) {
    const float want = c.encoded.values[i];
    const bool ok = got[i] == want && got_bf16[i].x == c10::BFloat16(want).x &&
                    got_f16[i].x == c10::Half(want).x;
    if (!ok) {
      ++mismatches;
      ADD_FAILURE() << c.name << " value " << i << ": got " << got[i] << " want " << want;
    }
  }
  EXPECT_EQ(mismatches, 0) << c.name;
}

TEST(Gguf, EveryTypeExpandsExactlyAsItsDefinitionSays) {
  const auto cases = every_type();
  GgufFile file(write_every_type(cases, 3, 32, "dd_gguf_every_type.gguf"));
  EXPECT_EQ(file.version(), 3u);
  EXPECT_EQ(file.alignment(), 32u);
  ASSERT_EQ(file.tensors().size(), cases.size());
  for (const auto& c : cases) expect_every_value(file, c);
}

TEST(Gguf, LoadGivesThePyTorchShapeInTheDtypeAsked) {
  const auto cases = every_type();
  GgufFile file(write_every_type(cases, 3, 32, "dd_gguf_load.gguf"));
  const Case& q4k = cases[8];
  const torch::Tensor want = torch::tensor(q4k.encoded.values).view({64, 2048});
  const torch::Tensor f32 = file.load(file.at("q4_k"), torch::kFloat32);
  EXPECT_EQ(f32.sizes(), want.sizes());
  EXPECT_TRUE(torch::equal(f32, want));
  EXPECT_TRUE(
      torch::equal(file.load(file.at("q4_k"), torch::kBFloat16), want.to(torch::kBFloat16)));
  EXPECT_TRUE(torch::equal(file.load(file.at("q4_k"), torch::kFloat64), want.to(torch::kFloat64)));
}

TEST(Gguf, Version2AndOtherAlignmentsReadTheSame) {
  const auto cases = every_type();
  for (const auto& [version, alignment] :
       std::vector<std::pair<uint32_t, uint64_t>>{{2, 32}, {2, 64}, {3, 8}, {3, 256}}) {
    const std::string name =
        "dd_gguf_v" + std::to_string(version) + "_a" + std::to_string(alignment) + ".gguf";
    GgufFile file(write_every_type(cases, version, alignment, name));
    EXPECT_EQ(file.version(), version);
    EXPECT_EQ(file.alignment(), alignment);
    EXPECT_EQ(file.data_start() % alignment, 0u);
    for (const auto& t : file.tensors()) EXPECT_EQ(t.offset % alignment, 0u) << t.name;
    for (const auto& c : cases) expect_every_value(file, c);
  }
}

TEST(Gguf, MetadataOfEveryTypeReadsBack) {
  using W = GgufWriter;
  W writer;
  writer.add_kv("u8", W::U8, W::le<uint8_t>(200));
  writer.add_kv("i8", W::I8, W::le<int8_t>(-100));
  writer.add_kv("u16", W::U16, W::le<uint16_t>(60000));
  writer.add_kv("i16", W::I16, W::le<int16_t>(-30000));
  writer.add_kv("u32", W::U32, W::le<uint32_t>(4000000000u));
  writer.add_kv("i32", W::I32, W::le<int32_t>(-2000000000));
  writer.add_kv("u64", W::U64, W::le<uint64_t>(18000000000000000000ull));
  writer.add_kv("i64", W::I64, W::le<int64_t>(-9000000000000000000ll));
  writer.add_kv("f32", W::F32, W::le<float>(0.25f));
  writer.add_kv("f64", W::F64, W::le<double>(-1e300));
  writer.add_kv("yes", W::BOOL, W::le<uint8_t>(1));
  writer.add_kv("no", W::BOOL, W::le<uint8_t>(0));
  writer.add_kv("general.name", W::STRING, W::str("flux1-dev"));
  writer.add_kv("ints", W::ARRAY,
                W::array(W::I32, 3, W::le<int32_t>(-1) + W::le<int32_t>(0) + W::le<int32_t>(7)));
  writer.add_kv("words", W::ARRAY, W::array(W::STRING, 2, W::str("a") + W::str("")));
  writer.add_kv(
      "nested", W::ARRAY,
      W::array(W::ARRAY, 2, W::array(W::U8, 1, W::le<uint8_t>(5)) + W::array(W::F64, 0, "")));
  GgufFile file(writer.write("dd_gguf_metadata.gguf"));

  EXPECT_EQ(file.metadata().size(), 16u);
  EXPECT_EQ(file.metadata()[0].first, "u8");
  EXPECT_EQ(file.value("u8").as_uint(), 200u);
  EXPECT_EQ(file.value("i8").as_int(), -100);
  EXPECT_EQ(file.value("u16").as_uint(), 60000u);
  EXPECT_EQ(file.value("i16").as_int(), -30000);
  EXPECT_EQ(file.value("u32").as_uint(), 4000000000u);
  EXPECT_EQ(file.value("i32").as_int(), -2000000000);
  EXPECT_EQ(file.value("u64").as_uint(), 18000000000000000000ull);
  EXPECT_EQ(file.value("i64").as_int(), -9000000000000000000ll);
  EXPECT_EQ(file.value("f32").as_float(), 0.25);
  EXPECT_EQ(file.value("f64").as_float(), -1e300);
  EXPECT_TRUE(file.value("yes").as_bool());
  EXPECT_FALSE(file.value("no").as_bool());
  EXPECT_EQ(file.value("general.name").as_string(), "flux1-dev");
  EXPECT_EQ(file.value("u8").type, GgufType::U8);
  EXPECT_EQ(file.value("i64").type, GgufType::I64);

  const GgufArray& ints = file.value("ints").as_array();
  EXPECT_EQ(ints.item_type, GgufType::I32);
  ASSERT_EQ(ints.items.size(), 3u);
  EXPECT_EQ(ints.items[0].as_int(), -1);
  EXPECT_EQ(ints.items[2].as_int(), 7);
  const GgufArray& words = file.value("words").as_array();
  ASSERT_EQ(words.items.size(), 2u);
  EXPECT_EQ(words.items[0].as_string(), "a");
  EXPECT_EQ(words.items[1].as_string(), "");
  const GgufArray& nested = file.value("nested").as_array();
  ASSERT_EQ(nested.items.size(), 2u);
  EXPECT_EQ(nested.items[0].as_array().items.at(0).as_uint(), 5u);
  EXPECT_EQ(nested.items[1].as_array().item_type, GgufType::F64);
  EXPECT_TRUE(nested.items[1].as_array().items.empty());

  EXPECT_EQ(file.find_value("absent"), nullptr);
  EXPECT_NE(test::error_of([&] { file.value("absent"); }).find("absent"), std::string::npos);
  EXPECT_NE(test::error_of([&] { file.value("i8").as_uint(); }), "");
  EXPECT_NE(test::error_of([&] { file.value("general.name").as_int(); }), "");
  EXPECT_TRUE(file.tensors().empty());
}

TEST(Gguf, TypesItCannotExpandStillOpenAndNameTheTensorWhenLoaded) {
  GgufWriter writer;
  writer.add_tensor("q2", static_cast<uint32_t>(GgmlType::Q2_K), {256}, std::string(84, '\0'));
  writer.add_tensor("ok", static_cast<uint32_t>(GgmlType::F32), {1}, GgufWriter::le<float>(3.0f));
  GgufFile file(writer.write("dd_gguf_q2k.gguf"));
  EXPECT_EQ(file.load(file.at("ok"), torch::kFloat32).item<float>(), 3.0f);
  const std::string message = test::error_of([&] { file.load(file.at("q2"), torch::kFloat32); });
  EXPECT_NE(message.find("'q2'"), std::string::npos) << message;
  EXPECT_NE(message.find("Q2_K"), std::string::npos) << message;
  EXPECT_NE(test::error_of([&] { file.at("missing"); }).find("missing"), std::string::npos);
}

}  // namespace
}  // namespace dd::io
