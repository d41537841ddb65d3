#pragma once
// A small GGUF writer for the tests, written from the format's description (not from the
// reader): header, metadata, tensor infos, padding to the alignment, data. It records the byte
// offset where each section ends, so that tests can cut files at every boundary.
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace dd::test {

class GgufWriter {
 public:
  // GGUF metadata type ids.
  enum Type : uint32_t {
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

  // Encoders for values (little-endian), to build metadata payloads.
  template <class T>
  static std::string le(T value) {
    std::string out(sizeof(T), '\0');
    std::memcpy(out.data(), &value, sizeof(T));
    return out;
  }
  static std::string str(const std::string& text) { return le<uint64_t>(text.size()) + text; }
  static std::string array(uint32_t item_type, uint64_t count, const std::string& items) {
    return le<uint32_t>(item_type) + le<uint64_t>(count) + items;
  }

  uint32_t version = 3;
  uint64_t alignment = 32;  // the padding used; add a general.alignment key to declare it

  // A metadata entry whose value bytes are `payload` (already encoded).
  void add_kv(const std::string& key, uint32_t type, const std::string& payload) {
    kvs_.push_back(str(key) + le<uint32_t>(type) + payload);
  }
  // A metadata entry given as raw bytes (for corrupt ones).
  void add_raw_kv(const std::string& encoded) { kvs_.push_back(encoded); }

  // A tensor with ggml dims `ne` (innermost first) and its stored bytes. The offset is the next
  // aligned one unless given.
  void add_tensor(const std::string& name, uint32_t ggml_type, const std::vector<uint64_t>& ne,
                  const std::string& bytes, int64_t offset = -1) {
    Tensor t{name, ggml_type, ne, bytes, 0};
    t.offset = offset >= 0 ? static_cast<uint64_t>(offset) : next_offset_;
    next_offset_ = align(t.offset + bytes.size());
    tensors_.push_back(std::move(t));
  }

  // The whole file; `boundaries` receives the offset where each section ends.
  std::string bytes(std::vector<size_t>* boundaries = nullptr) const {
    std::string out = "GGUF";
    const auto mark = [&] {
      if (boundaries) boundaries->push_back(out.size());
    };
    mark();
    out += le<uint32_t>(version);
    mark();
    out += le<uint64_t>(tensors_.size());
    mark();
    out += le<uint64_t>(kvs_.size());
    mark();
    for (const auto& kv : kvs_) {
      out += kv;
      mark();
    }
    for (const auto& t : tensors_) {
      out += str(t.name) + le<uint32_t>(static_cast<uint32_t>(t.ne.size()));
      for (uint64_t d : t.ne) out += le<uint64_t>(d);
      out += le<uint32_t>(t.type) + le<uint64_t>(t.offset);
      mark();
    }
    const size_t data_start = align(out.size());
    out.resize(data_start, '\0');
    mark();
    for (const auto& t : tensors_) {
      if (out.size() < data_start + t.offset) out.resize(data_start + t.offset, '\0');
      out.replace(data_start + t.offset, t.bytes.size(), t.bytes);
      mark();
    }
    return out;
  }

  std::string write(const std::string& file_name) const { return save(file_name, bytes()); }

  static std::string save(const std::string& file_name, const std::string& content) {
    const std::string path = (std::filesystem::temp_directory_path() / file_name).string();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    return path;
  }

 private:
  struct Tensor {
    std::string name;
    uint32_t type;
    std::vector<uint64_t> ne;
    std::string bytes;
    uint64_t offset;
  };
  uint64_t align(uint64_t n) const { return (n + alignment - 1) / alignment * alignment; }

  std::vector<std::string> kvs_;
  std::vector<Tensor> tensors_;
  uint64_t next_offset_ = 0;
};

}  // namespace dd::test
