#pragma once
// Memory-mapped safetensors reader. The header is validated completely before any tensor is
// touched: every problem (bad length, bad JSON, unknown dtype, offsets out of range or
// overlapping, shape and byte count disagreeing) is a dd::Error naming the file and tensor.
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace dd::io {

// F8_E4M3 is the "fn" variant (no infinities, one NaN pattern, largest finite 448); F8_E5M2 is
// IEEE-like (infinities, largest finite 57344). Both as in safetensors and PyTorch.
enum class DType { F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, I16, I8, U8, BOOL };

// Whether the type holds floating-point numbers (the 8-, 16-, 32- and 64-bit ones).
bool is_floating(DType dtype);

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);

struct TensorEntry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data section
  uint64_t end = 0;
  int64_t numel() const;
};

class MappedFile;

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;

  const std::string& path() const { return path_; }
  const std::vector<TensorEntry>& entries() const { return entries_; }
  const TensorEntry* find(const std::string& name) const;
  // Like find, but a missing tensor is a dd::Error naming the file.
  const TensorEntry& at(const std::string& name) const;
  bool contains(const std::string& name) const { return find(name) != nullptr; }
  // Raw little-endian bytes of a tensor, valid while this object lives.
  const uint8_t* data(const TensorEntry& entry) const;
  const nlohmann::json& metadata() const { return metadata_; }
  // Drops the pages read so far from this process's resident memory (they stay in the page
  // cache): once a model part's weights are copied out, its file pages need not count twice.
  // Data pointers stay valid; reading them again faults the pages back in.
  void release_pages() const;

 private:
  void parse_header();

  std::string path_;
  std::unique_ptr<MappedFile> file_;
  uint64_t data_start_ = 0;
  std::vector<TensorEntry> entries_;
  std::map<std::string, size_t> index_;
  nlohmann::json metadata_ = nlohmann::json::object();
};

}  // namespace dd::io
