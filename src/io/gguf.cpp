#include "io/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "util/error.h"

namespace dd::io {

static_assert(std::endian::native == std::endian::little, "GGUF is read as little-endian");

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian uint32
constexpr uint64_t kDefaultAlignment = 32;
// Caps that no real file reaches, checked before anything is allocated: FLUX has ~800 tensors
// and ~30 keys; the largest tokenizer arrays hold a few hundred thousand entries.
constexpr uint64_t kMaxTensors = 1 << 20;
constexpr uint64_t kMaxKeys = 1 << 20;
constexpr uint64_t kMaxArrayItems = 1 << 22;
constexpr uint64_t kMaxStringBytes = 1 << 26;
constexpr uint64_t kMaxAlignment = 1 << 24;
constexpr int kMaxArrayDepth = 8;
constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS
// Smallest encodings, to bound counts by the bytes left: a key-value pair (empty key, type,
// one byte) and a tensor info (empty name, n_dims, type, offset).
constexpr uint64_t kMinKeyValueBytes = 8 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;

// Bytes one item of a metadata type takes at least (for strings and arrays: their headers);
// 0 for an unknown type.
uint64_t min_item_bytes(uint32_t type) {
  switch (static_cast<GgufType>(type)) {
    case GgufType::U8:
    case GgufType::I8:
    case GgufType::BOOL:
      return 1;
    case GgufType::U16:
    case GgufType::I16:
      return 2;
    case GgufType::U32:
    case GgufType::I32:
    case GgufType::F32:
      return 4;
    case GgufType::U64:
    case GgufType::I64:
    case GgufType::F64:
    case GgufType::STRING:
      return 8;
    case GgufType::ARRAY:
      return 12;
  }
  return 0;
}

}  // namespace

// Reads the header of a mapped file into a GgufFile, checking every length before reading.
class GgufParser {
 public:
  explicit GgufParser(GgufFile& file) : f_(file) {}

  void parse() {
    read_preamble();
    const uint64_t n_tensors = read_count("tensor count", kMaxTensors, kMinTensorInfoBytes);
    const uint64_t n_keys = read_count("metadata key count", kMaxKeys, kMinKeyValueBytes);
    for (uint64_t i = 0; i < n_keys; ++i) read_key_value();
    read_alignment();
    for (uint64_t i = 0; i < n_tensors; ++i) read_tensor_info();
    place_data_section();
  }

 private:
  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw Error(f_.path_ + ": " + where + ": " + what);
  }

  void need(uint64_t bytes, const std::string& where, const char* what) const {
    if (bytes > f_.size_ - pos_)
      fail(where, std::string("truncated or corrupt file: ") + what + " needs " +
                      std::to_string(bytes) + " bytes at offset " + std::to_string(pos_) +
                      " but the file has " + std::to_string(f_.size_ - pos_) + " left");
  }

  template <class T>
  T read(const std::string& where, const char* what) {
    need(sizeof(T), where, what);
    T value;
    std::memcpy(&value, f_.map_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }

  std::string read_string(const std::string& where, const char* what) {
    const auto length = read<uint64_t>(where, what);
    if (length > kMaxStringBytes)
      fail(where, std::string(what) + " claims " + std::to_string(length) +
                      " bytes, more than any real file holds (corrupt file?)");
    need(length, where, what);
    std::string text(reinterpret_cast<const char*>(f_.map_ + pos_), length);
    pos_ += length;
    return text;
  }

  void read_preamble() {
    if (f_.size_ < 4) fail("header", "not a GGUF file (shorter than its 4-byte magic)");
    const auto magic = read<uint32_t>("header", "magic");
    if (magic != kMagic) fail("header", "not a GGUF file (the magic is not \"GGUF\")");
    const auto version = read<uint32_t>("header", "version");
    if (version == 1) fail("header", "GGUF version 1 is not supported (only 2 and 3)");
    if (version != 2 && version != 3) {
      const bool swapped = version == 0x02000000 || version == 0x03000000;
      fail("header", swapped ? "big-endian GGUF files are not supported"
                             : "unknown GGUF version " + std::to_string(version));
    }
    f_.version_ = version;
  }

  uint64_t read_count(const char* what, uint64_t cap, uint64_t min_bytes_each) {
    const auto count = read<uint64_t>("header", what);
    if (count > cap || count > (f_.size_ - pos_) / min_bytes_each)
      fail("header", std::string(what) + " " + std::to_string(count) +
                         " is more than the file can hold (corrupt or truncated file?)");
    return count;
  }

  GgufValue read_value(uint32_t type, const std::string& where, int depth) {
    GgufValue value;
    value.type = static_cast<GgufType>(type);
    switch (value.type) {
      case GgufType::U8:
        value.data = uint64_t{read<uint8_t>(where, "value")};
        break;
      case GgufType::I8:
        value.data = int64_t{read<int8_t>(where, "value")};
        break;
      case GgufType::U16:
        value.data = uint64_t{read<uint16_t>(where, "value")};
        break;
      case GgufType::I16:
        value.data = int64_t{read<int16_t>(where, "value")};
        break;
      case GgufType::U32:
        value.data = uint64_t{read<uint32_t>(where, "value")};
        break;
      case GgufType::I32:
        value.data = int64_t{read<int32_t>(where, "value")};
        break;
      case GgufType::U64:
        value.data = read<uint64_t>(where, "value");
        break;
      case GgufType::I64:
        value.data = read<int64_t>(where, "value");
        break;
      case GgufType::F32:
        value.data = double{read<float>(where, "value")};
        break;
      case GgufType::F64:
        value.data = read<double>(where, "value");
        break;
      case GgufType::BOOL:
        value.data = read<uint8_t>(where, "value") != 0;
        break;
      case GgufType::STRING:
        value.data = read_string(where, "string value");
        break;
      case GgufType::ARRAY:
        value.data = read_array(where, depth + 1);
        break;
      default:
        fail(where, "unknown metadata value type " + std::to_string(type));
    }
    return value;
  }

  GgufArray read_array(const std::string& where, int depth) {
    if (depth > kMaxArrayDepth)
      fail(where, "arrays nested more than " + std::to_string(kMaxArrayDepth) + " deep");
    const auto item_type = read<uint32_t>(where, "array item type");
    const uint64_t min_bytes = min_item_bytes(item_type);
    if (min_bytes == 0) fail(where, "unknown array item type " + std::to_string(item_type));
    const auto count = read<uint64_t>(where, "array length");
    if (count > kMaxArrayItems || count > (f_.size_ - pos_) / min_bytes)
      fail(where, "array of " + std::to_string(count) +
                      " items is more than the file can hold (corrupt or truncated file?)");
    GgufArray array;
    array.item_type = static_cast<GgufType>(item_type);
    array.items.reserve(count);
    for (uint64_t i = 0; i < count; ++i) array.items.push_back(read_value(item_type, where, depth));
    return array;
  }

  void read_key_value() {
    const std::string at = "metadata key #" + std::to_string(f_.metadata_.size());
    std::string key = read_string(at, "key");
    const std::string where = "metadata key '" + key + "'";
    const auto type = read<uint32_t>(where, "value type");
    GgufValue value = read_value(type, where, 0);
    if (!f_.key_index_.emplace(key, f_.metadata_.size()).second)
      fail(where, "the key appears twice");
    f_.metadata_.emplace_back(std::move(key), std::move(value));
  }

  void read_alignment() {
    const GgufValue* value = f_.find_value("general.alignment");
    if (!value) return;
    const std::string where = "metadata key 'general.alignment'";
    if (value->type != GgufType::U32 && value->type != GgufType::U64)
      fail(where, "must be an unsigned integer");
    const uint64_t alignment = value->as_uint();
    if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > kMaxAlignment)
      fail(where, std::to_string(alignment) + " is not a power of two up to " +
                      std::to_string(kMaxAlignment));
    f_.alignment_ = alignment;
  }

  void read_tensor_info() {
    const std::string at = "tensor #" + std::to_string(f_.tensors_.size());
    GgufTensor tensor;
    tensor.name = read_string(at, "tensor name");
    const std::string where = "tensor '" + tensor.name + "'";
    const auto n_dims = read<uint32_t>(where, "dimension count");
    if (n_dims > kMaxDims)
      fail(where,
           std::to_string(n_dims) + " dimensions, more than ggml's " + std::to_string(kMaxDims));
    for (uint32_t d = 0; d < n_dims; ++d) {
      const auto size = read<uint64_t>(where, "dimension size");
      if (size > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        fail(where, "dimension " + std::to_string(d) + " has a negative size");
      tensor.ne.push_back(static_cast<int64_t>(size));
    }
    const auto type_id = read<uint32_t>(where, "type");
    const auto block = ggml_block(type_id);
    if (!block) fail(where, "unknown ggml type id " + std::to_string(type_id));
    tensor.type = block->type;
    tensor.bytes = tensor_bytes(tensor.ne, *block, where);
    tensor.offset = read<uint64_t>(where, "data offset");
    if (tensor.offset % f_.alignment_ != 0)
      fail(where, "data offset " + std::to_string(tensor.offset) + " is not a multiple of the " +
                      std::to_string(f_.alignment_) + "-byte alignment");
    if (!f_.tensor_index_.emplace(tensor.name, f_.tensors_.size()).second)
      fail(where, "the tensor name appears twice");
    f_.tensors_.push_back(std::move(tensor));
  }

  // The bytes a tensor takes, checking that its rows are whole blocks and nothing overflows.
  uint64_t tensor_bytes(const std::vector<int64_t>& ne, const GgmlBlock& block,
                        const std::string& where) const {
    if ((ne.empty() ? 1 : ne[0]) % block.elements != 0)
      fail(where, "rows of " + std::to_string(ne.empty() ? 1 : ne[0]) + " values are not whole " +
                      block.name + " blocks of " + std::to_string(block.elements));
    constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    uint64_t blocks = 1;
    for (size_t d = 0; d < ne.size(); ++d) {
      const uint64_t size = d == 0 ? static_cast<uint64_t>(ne[0] / block.elements) : ne[d];
      if (size != 0 && blocks > kMax / size) fail(where, "the shape is too large");
      blocks *= size;
    }
    // numel() must fit int64 too, so that PyTorch can hold the expanded tensor.
    if (blocks != 0 && (blocks > kMax / static_cast<uint64_t>(block.bytes) ||
                        blocks > kMax / static_cast<uint64_t>(block.elements)))
      fail(where, "the shape is too large");
    return blocks * static_cast<uint64_t>(block.bytes);
  }

  // The data section starts at the first aligned offset after the header; every tensor must
  // lie inside it and no two may overlap.
  void place_data_section() {
    const uint64_t alignment = f_.alignment_;
    f_.data_start_ = (pos_ + alignment - 1) / alignment * alignment;
    const uint64_t data_size = f_.size_ > f_.data_start_ ? f_.size_ - f_.data_start_ : 0;
    std::vector<const GgufTensor*> by_offset;
    for (const auto& t : f_.tensors_) {
      if (t.bytes > data_size || t.offset > data_size - t.bytes)
        fail("tensor '" + t.name + "'", "bytes [" + std::to_string(t.offset) + ", +" +
                                            std::to_string(t.bytes) +
                                            ") lie outside the data section of " +
                                            std::to_string(data_size) + " bytes (truncated file?)");
      if (t.bytes > 0) by_offset.push_back(&t);
    }
    std::sort(by_offset.begin(), by_offset.end(),
              [](const GgufTensor* a, const GgufTensor* b) { return a->offset < b->offset; });
    for (size_t i = 1; i < by_offset.size(); ++i)
      if (by_offset[i]->offset < by_offset[i - 1]->offset + by_offset[i - 1]->bytes)
        fail("tensor '" + by_offset[i]->name + "'",
             "overlaps tensor '" + by_offset[i - 1]->name + "' in the data section");
  }

  GgufFile& f_;
  uint64_t pos_ = 0;
};

int64_t GgufTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

std::vector<int64_t> GgufTensor::shape() const { return {ne.rbegin(), ne.rend()}; }

GgufFile::GgufFile(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(path + ": not a regular file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const std::string reason = std::strerror(errno);
      ::close(fd);
      throw Error(path + ": cannot map: " + reason);
    }
    map_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);  // the mapping keeps the file
  try {
    GgufParser(*this).parse();
  } catch (...) {
    if (map_) ::munmap(const_cast<uint8_t*>(map_), size_);
    throw;
  }
}

GgufFile::~GgufFile() {
  if (map_) ::munmap(const_cast<uint8_t*>(map_), size_);
}

const GgufValue* GgufFile::find_value(const std::string& key) const {
  auto it = key_index_.find(key);
  return it == key_index_.end() ? nullptr : &metadata_[it->second].second;
}

const GgufValue& GgufFile::value(const std::string& key) const {
  const GgufValue* found = find_value(key);
  if (!found) throw Error(path_ + ": missing metadata key '" + key + "'");
  return *found;
}

const GgufTensor* GgufFile::find(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensor& GgufFile::at(const std::string& name) const {
  const GgufTensor* tensor = find(name);
  if (!tensor) throw Error(path_ + ": missing tensor '" + name + "'");
  return *tensor;
}

const uint8_t* GgufFile::data(const GgufTensor& tensor) const {
  return map_ + data_start_ + tensor.offset;
}

torch::Tensor GgufFile::load(const GgufTensor& tensor, torch::ScalarType dtype) const {
  if (!ggml_block(tensor.type).expandable)
    throw Error(path_ + ": tensor '" + tensor.name + "' is stored as " +
                ggml_type_name(tensor.type) + ", which diffusiond cannot expand yet");
  return dequantize_tensor(tensor.type, data(tensor), tensor.shape(), dtype);
}

void GgufFile::release_pages() const {
  if (map_) ::madvise(const_cast<uint8_t*>(map_), size_, MADV_DONTNEED);
}

}  // namespace dd::io
