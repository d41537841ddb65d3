// Corrupt and truncated GGUF files: each is a dd::Error naming the file (and the key or tensor
// at fault), never a crash or a read out of bounds.
#include <gtest/gtest.h>

#include <functional>

#include "error_of.h"
#include "gguf_test_writer.h"
#include "io/gguf.h"

namespace dd::io {
namespace {

using test::GgufWriter;
using W = GgufWriter;

constexpr uint32_t kQ8_0 = 8, kF32 = 0;

// A small valid file: two keys, a Q8_0 matrix and a float32 vector.
GgufWriter valid_writer() {
  GgufWriter w;
  w.add_kv("general.architecture", W::STRING, W::str("flux"));
  w.add_kv("list", W::ARRAY, W::array(W::U16, 2, W::le<uint16_t>(1) + W::le<uint16_t>(2)));
  w.add_tensor("weight", kQ8_0, {32, 2}, std::string(68, '\x01'));
  w.add_tensor("bias", kF32, {2}, std::string(8, '\0'));
  return w;
}

// The message of opening `content` as a file ("" when it opens), and the path used.
std::string open_error(const std::string& content, std::string* path_out = nullptr) {
  const std::string path = GgufWriter::save("dd_gguf_corrupt.gguf", content);
  if (path_out) *path_out = path;
  return test::error_of([&] { GgufFile file(path); });
}

void expect_error(const std::string& content, const std::string& mentions) {
  std::string path;
  const std::string message = open_error(content, &path);
  ASSERT_NE(message, "") << "expected an error mentioning " << mentions;
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find(mentions), std::string::npos) << message;
}

std::string with_u64_at(std::string content, size_t offset, uint64_t value) {
  content.replace(offset, 8, W::le<uint64_t>(value));
  return content;
}

TEST(GgufCorrupt, TheValidBaseOpens) {
  std::string path;
  EXPECT_EQ(open_error(valid_writer().bytes(), &path), "");
  GgufFile file(path);
  EXPECT_EQ(file.tensors().size(), 2u);
}

TEST(GgufCorrupt, EveryTruncationIsAnError) {
  std::vector<size_t> boundaries;
  const std::string full = valid_writer().bytes(&boundaries);
  // Every byte count short of the whole file (this covers every section boundary).
  for (size_t cut = 0; cut < full.size(); ++cut)
    EXPECT_NE(open_error(full.substr(0, cut)), "") << "cut at " << cut << " of " << full.size();
  EXPECT_GE(boundaries.size(), 9u);
  EXPECT_EQ(boundaries.back(), full.size());
}

TEST(GgufCorrupt, HeaderErrors) {
  const std::string full = valid_writer().bytes();
  std::string bad_magic = full;
  bad_magic[3] = 'X';
  expect_error(bad_magic, "magic");
  for (uint32_t version : {0u, 1u, 4u}) {
    std::string v = full;
    v.replace(4, 4, W::le<uint32_t>(version));
    expect_error(v, "version");
  }
  std::string big_endian = full;
  big_endian.replace(4, 4, W::le<uint32_t>(0x03000000u));
  expect_error(big_endian, "big-endian");
  expect_error(with_u64_at(full, 8, uint64_t{1} << 62), "tensor count");
  expect_error(with_u64_at(full, 8, 1000), "tensor count");
  expect_error(with_u64_at(full, 16, uint64_t{1} << 62), "metadata key count");
  expect_error(with_u64_at(full, 16, ~uint64_t{0}), "metadata key count");
}

// A file that is the valid base plus one more metadata entry.
std::string with_kv(const std::function<void(GgufWriter&)>& add) {
  GgufWriter w = valid_writer();
  add(w);
  return w.bytes();
}

TEST(GgufCorrupt, MetadataErrorsNameTheKey) {
  expect_error(with_kv([](W& w) { w.add_raw_kv(W::le<uint64_t>(uint64_t{1} << 40) + "k"); }),
               "key #2");
  expect_error(with_kv([](W& w) { w.add_kv("odd", 13, W::le<uint32_t>(0)); }), "'odd'");
  expect_error(with_kv([](W& w) { w.add_kv("s", W::STRING, W::le<uint64_t>(uint64_t{1} << 60)); }),
               "'s'");
  expect_error(with_kv([](W& w) { w.add_kv("s", W::STRING, W::le<uint64_t>(5000) + "abc"); }),
               "'s'");
  expect_error(
      with_kv([](W& w) { w.add_kv("a", W::ARRAY, W::array(W::U8, uint64_t{1} << 40, "")); }),
      "'a'");
  expect_error(with_kv([](W& w) { w.add_kv("a", W::ARRAY, W::array(W::STRING, 1000, "xx")); }),
               "'a'");
  expect_error(with_kv([](W& w) { w.add_kv("a", W::ARRAY, W::array(99, 1, "x")); }), "'a'");
  expect_error(with_kv([](W& w) {
                 std::string deep = W::array(W::U8, 0, "");
                 for (int i = 0; i < 12; ++i) deep = W::array(W::ARRAY, 1, deep);
                 w.add_kv("deep", W::ARRAY, deep);
               }),
               "'deep'");
  expect_error(with_kv([](W& w) { w.add_kv("list", W::U8, W::le<uint8_t>(1)); }), "'list'");
  for (uint32_t alignment : {0u, 3u, 48u, 1u << 30})
    expect_error(
        with_kv([&](W& w) { w.add_kv("general.alignment", W::U32, W::le<uint32_t>(alignment)); }),
        "general.alignment");
  expect_error(with_kv([](W& w) { w.add_kv("general.alignment", W::STRING, W::str("32")); }),
               "general.alignment");
}

// The valid base plus one more tensor.
std::string with_tensor(uint32_t type, const std::vector<uint64_t>& ne, size_t bytes,
                        int64_t offset = -1, const std::string& name = "extra") {
  GgufWriter w = valid_writer();
  w.add_tensor(name, type, ne, std::string(bytes, '\0'), offset);
  return w.bytes();
}

TEST(GgufCorrupt, TensorInfoErrorsNameTheTensor) {
  expect_error(with_tensor(kF32, {1, 1, 1, 1, 1}, 4), "'extra'");
  expect_error(with_tensor(kF32, {uint64_t{1} << 63}, 4), "'extra'");
  expect_error(with_tensor(kF32, {uint64_t{1} << 40, uint64_t{1} << 40}, 4), "'extra'");
  expect_error(with_tensor(kQ8_0, {uint64_t{1} << 62, 4}, 4), "'extra'");
  for (uint32_t retired_or_unknown : {4u, 5u, 31u, 99u, 0xffffffffu})
    expect_error(with_tensor(retired_or_unknown, {32}, 32), "'extra'");
  expect_error(with_tensor(kQ8_0, {16, 2}, 34), "'extra'");
  expect_error(with_tensor(kQ8_0, {}, 34),
               "'extra'");  // a scalar is no whole block                // rows of half a block
  expect_error(with_tensor(kF32, {4}, 16, /*offset=*/8), "'extra'");       // misaligned
  expect_error(with_tensor(kF32, {4}, 0, /*offset=*/1 << 20), "'extra'");  // past the end
  expect_error(with_tensor(kF32, {4}, 8), "'extra'");                      // cut short
  expect_error(with_tensor(kF32, {4}, 16, /*offset=*/0), "'extra'");       // over 'weight'
  expect_error(with_tensor(kF32, {2}, 8, -1, "bias"), "'bias'");           // twice
}

TEST(GgufCorrupt, AnEmptyFileAndANonFileAreErrors) {
  expect_error("", "GGUF");
  EXPECT_NE(test::error_of([] { GgufFile file("/nonexistent/dir/x.gguf"); }), "");
  EXPECT_NE(test::error_of([] { GgufFile file(std::filesystem::temp_directory_path().string()); }),
            "");
}

TEST(GgufCorrupt, AFileWithNoTensorsMayEndRightAfterItsHeader) {
  GgufWriter w;
  w.add_kv("k", W::U8, W::le<uint8_t>(1));
  std::vector<size_t> boundaries;
  const std::string full = w.bytes(&boundaries);
  std::string path;
  EXPECT_EQ(open_error(full.substr(0, boundaries[boundaries.size() - 2]), &path), "");
}

}  // namespace
}  // namespace dd::io
