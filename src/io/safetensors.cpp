#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "util/error.h"

namespace dd::io {

namespace {

// The JSON header of a real checkpoint is a few MB at most; anything larger is corrupt.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

struct DTypeName {
  const char* name;
  DType dtype;
  size_t size;
};
constexpr DTypeName kDTypes[] = {
    {"F64", DType::F64, 8},   {"F32", DType::F32, 4},         {"F16", DType::F16, 2},
    {"BF16", DType::BF16, 2}, {"F8_E4M3", DType::F8_E4M3, 1}, {"F8_E5M2", DType::F8_E5M2, 1},
    {"I64", DType::I64, 8},   {"I32", DType::I32, 4},         {"I16", DType::I16, 2},
    {"I8", DType::I8, 1},     {"U8", DType::U8, 1},           {"BOOL", DType::BOOL, 1},
};

std::string describe(const std::string& path, const std::string& tensor) {
  return path + ": tensor '" + tensor + "'";
}

uint64_t read_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

size_t dtype_size(DType dtype) {
  for (const auto& d : kDTypes)
    if (d.dtype == dtype) return d.size;
  return 0;
}

const char* dtype_name(DType dtype) {
  for (const auto& d : kDTypes)
    if (d.dtype == dtype) return d.name;
  return "?";
}

bool is_floating(DType dtype) {
  switch (dtype) {
    case DType::F64:
    case DType::F32:
    case DType::F16:
    case DType::BF16:
    case DType::F8_E4M3:
    case DType::F8_E5M2:
      return true;
    default:
      return false;
  }
}

int64_t TensorEntry::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd_);
      throw Error(path + ": not a regular file");
    }
    size_ = static_cast<uint64_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
      if (p == MAP_FAILED) {
        ::close(fd_);
        throw Error(path + ": cannot map: " + std::strerror(errno));
      }
      data_ = static_cast<const uint8_t*>(p);
    }
  }
  ~MappedFile() {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
    if (fd_ >= 0) ::close(fd_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  void release_pages() const {
    if (data_) ::madvise(const_cast<uint8_t*>(data_), size_, MADV_DONTNEED);
  }

 private:
  int fd_ = -1;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

SafetensorsFile::SafetensorsFile(const std::string& path)
    : path_(path), file_(std::make_unique<MappedFile>(path)) {
  parse_header();
}

SafetensorsFile::~SafetensorsFile() = default;

void SafetensorsFile::release_pages() const { file_->release_pages(); }
SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;

namespace {

DType parse_dtype(const nlohmann::json& value, const std::string& where) {
  if (!value.is_string()) throw Error(where + ": dtype is not a string");
  const auto name = value.get<std::string>();
  for (const auto& d : kDTypes)
    if (name == d.name) return d.dtype;
  throw Error(where + ": unsupported dtype '" + name + "'");
}

std::vector<int64_t> parse_shape(const nlohmann::json& value, const std::string& where) {
  if (!value.is_array()) throw Error(where + ": shape is not an array");
  std::vector<int64_t> shape;
  for (const auto& d : value) {
    if (!d.is_number_unsigned()) throw Error(where + ": shape has a non-integer or negative size");
    const auto size = d.get<uint64_t>();
    if (size > (1ull << 40))
      throw Error(where + ": shape size " + std::to_string(size) + " is absurd");
    shape.push_back(static_cast<int64_t>(size));
  }
  return shape;
}

// Number of bytes the shape needs, or an error when it exceeds int64 (so that the element count,
// TensorEntry::numel and every partial product of the sizes fit in int64 too, even for a shape
// with a zero size after huge ones).
uint64_t shape_bytes(const std::vector<int64_t>& shape, size_t item, const std::string& where) {
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  uint64_t bytes = item;
  for (int64_t d : shape) {
    if (d != 0 && bytes > kMax / static_cast<uint64_t>(d))
      throw Error(where + ": shape is too large");
    bytes *= static_cast<uint64_t>(d);
  }
  return bytes;
}

}  // namespace

void SafetensorsFile::parse_header() {
  const uint64_t size = file_->size();
  if (size < 8)
    throw Error(path_ + ": not a safetensors file (shorter than its 8-byte header length)");
  const uint64_t header_len = read_le64(file_->data());
  if (header_len > kMaxHeaderBytes || header_len > size - 8)
    throw Error(path_ + ": corrupt or truncated safetensors file (header length " +
                std::to_string(header_len) + " with file size " + std::to_string(size) + ")");
  data_start_ = 8 + header_len;
  const uint64_t data_size = size - data_start_;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(file_->data() + 8, file_->data() + data_start_);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path_ + ": safetensors header is not valid JSON (" + e.what() + ")");
  }
  if (!header.is_object()) throw Error(path_ + ": safetensors header is not a JSON object");

  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      metadata_ = it.value();
      continue;
    }
    const std::string where = describe(path_, it.key());
    const auto& spec = it.value();
    if (!spec.is_object() || !spec.contains("dtype") || !spec.contains("shape") ||
        !spec.contains("data_offsets"))
      throw Error(where + ": entry needs dtype, shape and data_offsets");
    TensorEntry entry;
    entry.name = it.key();
    entry.dtype = parse_dtype(spec["dtype"], where);
    entry.shape = parse_shape(spec["shape"], where);
    const auto& offsets = spec["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned())
      throw Error(where + ": data_offsets must be two non-negative integers");
    entry.begin = offsets[0].get<uint64_t>();
    entry.end = offsets[1].get<uint64_t>();
    if (entry.begin > entry.end || entry.end > data_size)
      throw Error(where + ": data offsets [" + std::to_string(entry.begin) + ", " +
                  std::to_string(entry.end) + "] are outside the data section of " +
                  std::to_string(data_size) + " bytes (truncated file?)");
    const uint64_t expected = shape_bytes(entry.shape, dtype_size(entry.dtype), where);
    if (expected != entry.end - entry.begin)
      throw Error(where + ": shape and dtype need " + std::to_string(expected) +
                  " bytes but the offsets span " + std::to_string(entry.end - entry.begin));
    index_[entry.name] = entries_.size();
    entries_.push_back(std::move(entry));
  }

  std::vector<const TensorEntry*> by_offset;
  for (const auto& e : entries_)
    if (e.end > e.begin) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorEntry* a, const TensorEntry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->begin < by_offset[i - 1]->end)
      throw Error(path_ + ": tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name +
                  "' overlap in the data section");
}

const TensorEntry* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

const TensorEntry& SafetensorsFile::at(const std::string& name) const {
  const TensorEntry* entry = find(name);
  if (!entry) throw Error(path_ + ": missing tensor '" + name + "'");
  return *entry;
}

const uint8_t* SafetensorsFile::data(const TensorEntry& entry) const {
  return file_->data() + data_start_ + entry.begin;
}

}  // namespace dd::io
