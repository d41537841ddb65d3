// The safetensors reader must turn every kind of corrupt header into a clear dd::Error.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "io/safetensors.h"
#include "io/tensor_file.h"
#include "util/error.h"

namespace dd::io {
namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("dd_io_test_" + name)).string();
}

// A file made of an 8-byte length, the header text and `data_bytes` zero bytes.
std::string write_raw(const std::string& name, const std::string& header, size_t data_bytes,
                      int64_t claimed_length = -1) {
  const std::string path = temp_path(name);
  std::ofstream out(path, std::ios::binary);
  const uint64_t len = claimed_length >= 0 ? claimed_length : header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((len >> (8 * i)) & 0xff));
  out << header << std::string(data_bytes, '\0');
  return path;
}

std::string error_of(const std::string& path) {
  try {
    SafetensorsFile file(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, RoundTripsTensorsOfEveryFloatType) {
  const std::string path = temp_path("roundtrip.safetensors");
  auto f32 = torch::arange(6, torch::kFloat32).reshape({2, 3});
  save_safetensors(path,
                   {{"a", f32}, {"b", f32.to(torch::kFloat16)}, {"c", f32.to(torch::kBFloat16)}});
  SafetensorsFile file(path);
  ASSERT_EQ(file.entries().size(), 3u);
  for (const char* name : {"a", "b", "c"}) {
    auto t = load_tensor(file, name, torch::kFloat32);
    EXPECT_TRUE(torch::equal(t, f32)) << name;
  }
  EXPECT_EQ(file.at("b").dtype, DType::F16);
  EXPECT_EQ(file.at("c").dtype, DType::BF16);
}

// The model loader drops a file's pages after copying a part out; the file stays readable.
TEST(Safetensors, ReleasedPagesReadBackTheSameBytes) {
  const std::string path = temp_path("release.safetensors");
  const auto big = torch::randn({256, 1024});  // 1 MiB: many pages
  save_safetensors(path, {{"big", big}});
  SafetensorsFile file(path);
  EXPECT_TRUE(torch::equal(load_tensor(file, "big", torch::kFloat32), big));
  file.release_pages();
  EXPECT_TRUE(torch::equal(load_tensor(file, "big", torch::kFloat32), big));
  std::remove(path.c_str());
}

TEST(Safetensors, MissingTensorNamesFileAndTensor) {
  const std::string path = temp_path("missing.safetensors");
  save_safetensors(path, {{"present", torch::zeros({2})}});
  SafetensorsFile file(path);
  try {
    file.at("absent");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("absent"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
  }
}

struct BadHeader {
  const char* name;
  std::string header;
  size_t data_bytes;
  int64_t claimed_length;
  const char* message_part;
};

class SafetensorsCorrupt : public ::testing::TestWithParam<BadHeader> {};

TEST_P(SafetensorsCorrupt, GivesAClearError) {
  const auto& c = GetParam();
  const std::string path = write_raw(c.name, c.header, c.data_bytes, c.claimed_length);
  const std::string message = error_of(path);
  EXPECT_NE(message.find(c.message_part), std::string::npos) << "got: " << message;
  EXPECT_NE(message.find(path), std::string::npos) << "error must name the file: " << message;
}

INSTANTIATE_TEST_SUITE_P(
    Headers, SafetensorsCorrupt,
    ::testing::Values(
        BadHeader{"len", "{}", 0, 1 << 20, "header length"},
        BadHeader{"json", "{not json", 0, -1, "not valid JSON"},
        BadHeader{"array", "[1,2]", 0, -1, "not a JSON object"},
        BadHeader{"dtype", R"({"t":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}})", 4, -1,
                  "unsupported dtype"},
        BadHeader{"range", R"({"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8, -1,
                  "outside the data section"},
        BadHeader{"count", R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8, -1,
                  "need 12 bytes"},
        BadHeader{
            "overlap",
            R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
            12, -1, "overlap"},
        BadHeader{"negative", R"({"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4, -1,
                  "negative"},
        BadHeader{"fields", R"({"t":{"dtype":"F32"}})", 0, -1,
                  "needs dtype, shape and data_offsets"},
        BadHeader{
            "overflow",
            R"({"t":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,4]}})",
            4, -1, "too large"},
        // Found by fuzzing: no bytes, but 2^40 * 2^23 elements before the zero overflowed int64.
        BadHeader{"zero_after_huge",
                  R"({"t":{"dtype":"U8","shape":[1099511627776,8388608,0],"data_offsets":[0,0]}})",
                  0, -1, "too large"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Safetensors, TooShortFileIsRejected) {
  const std::string path = temp_path("short.safetensors");
  std::ofstream(path, std::ios::binary) << "abc";
  EXPECT_NE(error_of(path).find("not a safetensors file"), std::string::npos);
}

TEST(Safetensors, TruncatedFileIsRejected) {
  const std::string path = temp_path("full.safetensors");
  save_safetensors(path, {{"w", torch::ones({64})}});
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 10);
  EXPECT_NE(error_of(path).find("outside the data section"), std::string::npos);
}

TEST(Safetensors, MissingFileIsRejected) {
  EXPECT_NE(error_of(temp_path("does-not-exist")).find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace dd::io
