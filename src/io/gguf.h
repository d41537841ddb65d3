#pragma once
// Memory-mapped GGUF reader (versions 2 and 3, little-endian), the format of llama.cpp and of
// the quantised FLUX and T5 releases. The whole header (metadata and tensor infos) is validated
// before any tensor is touched: lengths and counts against the bytes left, types, dimensions,
// alignment, offsets in range and not overlapping. Every problem is a dd::Error naming the file
// and the key or tensor; a truncated or corrupt file never reads out of bounds.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "io/gguf_blocks.h"

namespace dd::io {

// GGUF's metadata value types (gguf.h).
enum class GgufType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};

struct GgufValue;
struct GgufArray {
  GgufType item_type = GgufType::U8;
  std::vector<GgufValue> items;
};

// One metadata value: unsigned integers as uint64, signed as int64, floats as double.
struct GgufValue {
  GgufType type = GgufType::U8;
  std::variant<uint64_t, int64_t, double, bool, std::string, GgufArray> data;

  // Typed access; a dd::Error when the value is of another kind (or out of range).
  uint64_t as_uint() const;  // any integer type holding a value >= 0
  int64_t as_int() const;    // any integer type holding a value that fits int64
  double as_float() const;   // F32 or F64
  bool as_bool() const;
  const std::string& as_string() const;
  const GgufArray& as_array() const;
};

struct GgufTensor {
  std::string name;
  GgmlType type = GgmlType::F32;
  std::vector<int64_t> ne;  // ggml order: ne[0] is the innermost (contiguous) dimension
  uint64_t offset = 0;      // from the start of the data section
  uint64_t bytes = 0;
  int64_t numel() const;
  // The PyTorch shape: ne reversed.
  std::vector<int64_t> shape() const;
};

class GgufFile {
 public:
  explicit GgufFile(const std::string& path);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  // Byte offset of the data section in the file (a multiple of alignment()).
  uint64_t data_start() const { return data_start_; }

  // Metadata in file order; find_value gives nullptr for a missing key.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
  const GgufValue* find_value(const std::string& key) const;
  // Like find_value, but a missing key is a dd::Error naming the file.
  const GgufValue& value(const std::string& key) const;

  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* find(const std::string& name) const;
  const GgufTensor& at(const std::string& name) const;
  bool contains(const std::string& name) const { return find(name) != nullptr; }
  // The tensor's bytes in the mapping, valid while this object lives.
  const uint8_t* data(const GgufTensor& tensor) const;
  // The tensor expanded into a new CPU tensor of its PyTorch shape and `dtype`.
  torch::Tensor load(const GgufTensor& tensor, torch::ScalarType dtype) const;

  // Drops the pages read so far from resident memory (they stay in the page cache); pointers
  // stay valid and fault the pages back in when read again.
  void release_pages() const;

 private:
  friend class GgufParser;

  std::string path_;
  const uint8_t* map_ = nullptr;
  uint64_t size_ = 0;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_start_ = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::map<std::string, size_t> key_index_;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace dd::io
