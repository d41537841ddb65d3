// float8 tensors (F8_E4M3, F8_E5M2) in safetensors files: read as stored (8 bits a value) and
// converted to float32 exactly as the formats define every one of their 256 codes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>

#include "io/safetensors.h"
#include "io/tensor_file.h"

namespace dd::io {
namespace {

struct Float8Format {
  int exponent_bits;
  int mantissa_bits;
  bool has_infinity;  // E5M2: exponent all ones, mantissa 0. E4M3 "fn": no infinities.
};
constexpr Float8Format kE4M3{4, 3, false};
constexpr Float8Format kE5M2{5, 2, true};

// The value of one code, from the format's definition: sign, biased exponent, mantissa;
// subnormals when the exponent is 0. E4M3 ("fn") spends only S.1111.111 on NaN and uses the
// rest of the top exponent for normal numbers (up to 448); E5M2 is IEEE-like.
float decode(uint8_t code, const Float8Format& format) {
  const int mantissa_scale = 1 << format.mantissa_bits;
  const int top_exponent = (1 << format.exponent_bits) - 1;
  const int bias = (1 << (format.exponent_bits - 1)) - 1;
  const int mantissa = code & (mantissa_scale - 1);
  const int exponent = (code >> format.mantissa_bits) & top_exponent;
  const float sign = (code & 0x80) ? -1.0f : 1.0f;
  if (format.has_infinity && exponent == top_exponent)
    return mantissa == 0 ? sign * std::numeric_limits<float>::infinity()
                         : std::numeric_limits<float>::quiet_NaN();
  if (!format.has_infinity && exponent == top_exponent && mantissa == mantissa_scale - 1)
    return std::numeric_limits<float>::quiet_NaN();
  if (exponent == 0)
    return sign * std::ldexp(static_cast<float>(mantissa) / mantissa_scale, 1 - bias);
  return sign * std::ldexp(1.0f + static_cast<float>(mantissa) / mantissa_scale, exponent - bias);
}

// A safetensors file with two [16, 16] tensors, each holding the codes 0..255 in order.
std::string write_every_code() {
  const std::string path =
      (std::filesystem::temp_directory_path() / "dd_io_float8_test.safetensors").string();
  const std::string header =
      R"({"e4m3": {"dtype": "F8_E4M3", "shape": [16, 16], "data_offsets": [0, 256]},)"
      R"( "e5m2": {"dtype": "F8_E5M2", "shape": [16, 16], "data_offsets": [256, 512]}})";
  std::ofstream out(path, std::ios::binary);
  const uint64_t length = header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((length >> (8 * i)) & 0xff));
  out << header;
  for (int copy = 0; copy < 2; ++copy)
    for (int code = 0; code < 256; ++code) out.put(static_cast<char>(code));
  return path;
}

void expect_every_code_decodes(const torch::Tensor& values, const Float8Format& format,
                               const char* name) {
  ASSERT_EQ(values.scalar_type(), torch::kFloat32);
  const auto flat = values.contiguous().view({-1});
  ASSERT_EQ(flat.numel(), 256);
  for (int code = 0; code < 256; ++code) {
    const float expected = decode(static_cast<uint8_t>(code), format);
    const float got = flat[code].item<float>();
    if (std::isnan(expected))
      EXPECT_TRUE(std::isnan(got)) << name << " code " << code << " gave " << got;
    else
      EXPECT_EQ(got, expected) << name << " code " << code;
  }
}

TEST(Float8, EveryCodeConvertsAsTheFormatDefinesIt) {
  const std::string path = write_every_code();
  SafetensorsFile file(path);
  EXPECT_EQ(file.at("e4m3").dtype, DType::F8_E4M3);
  EXPECT_EQ(file.at("e5m2").dtype, DType::F8_E5M2);
  EXPECT_TRUE(is_floating(DType::F8_E4M3));
  expect_every_code_decodes(load_tensor(file, "e4m3", torch::kFloat32), kE4M3, "e4m3");
  expect_every_code_decodes(load_tensor(file, "e5m2", torch::kFloat32), kE5M2, "e5m2");
  // The formats' landmarks, as their definitions state them.
  EXPECT_EQ(decode(0x7e, kE4M3), 448.0f);        // largest finite E4M3
  EXPECT_EQ(decode(0x01, kE4M3), 0x1p-9f);       // smallest subnormal
  EXPECT_EQ(decode(0x7b, kE5M2), 57344.0f);      // largest finite E5M2
  EXPECT_TRUE(std::isinf(decode(0xfc, kE5M2)));  // -infinity
  std::remove(path.c_str());
}

TEST(Float8, TensorsStayEightBitsAsStored) {
  const std::string path = write_every_code();
  SafetensorsFile file(path);
  for (const char* name : {"e4m3", "e5m2"}) {
    const auto stored = load_tensor(file, name);
    EXPECT_EQ(stored.element_size(), 1) << name;
    EXPECT_EQ(stored.scalar_type(),
              std::string(name) == "e4m3" ? torch::kFloat8_e4m3fn : torch::kFloat8_e5m2);
    const auto bytes = stored.view(torch::kUInt8).view({-1});
    EXPECT_TRUE(torch::equal(bytes, torch::arange(256, torch::kInt64).to(torch::kUInt8))) << name;
  }
  std::remove(path.c_str());
}

TEST(Float8, SavedTensorsKeepTheirType) {
  const std::string path =
      (std::filesystem::temp_directory_path() / "dd_io_float8_saved.safetensors").string();
  const auto values = torch::tensor({0.5f, -2.0f, 448.0f, 0.001953125f});
  save_safetensors(path, {{"w", values.to(torch::kFloat8_e4m3fn)},
                          {"v", values.narrow(0, 0, 2).to(torch::kFloat8_e5m2)}});
  SafetensorsFile file(path);
  EXPECT_EQ(file.at("w").dtype, DType::F8_E4M3);
  EXPECT_EQ(file.at("v").dtype, DType::F8_E5M2);
  EXPECT_TRUE(torch::equal(load_tensor(file, "w", torch::kFloat32), values));
  EXPECT_TRUE(torch::equal(load_tensor(file, "v", torch::kFloat32), values.narrow(0, 0, 2)));
  std::remove(path.c_str());
}

}  // namespace
}  // namespace dd::io
