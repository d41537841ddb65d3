#include "service_flux_models.h"

#include <cstdint>
#include <fstream>
#include <vector>

#include "io/safetensors.h"
#include "io/tensor_file.h"
#include "service/crypto.h"

namespace dd::service::test {

namespace fs = std::filesystem;

namespace {

fs::path flux_models() { return fs::path(::dd::test::flux_fixtures_dir()) / "models"; }
fs::path fill_models() { return fs::path(::dd::test::flux_fill_fixtures_dir()) / "models"; }

// GGUF v3, little-endian: header, metadata, tensor infos, then the data at 32-byte alignment.
class GgufWriter {
 public:
  void add_f32(const std::string& name, const std::vector<int64_t>& shape) {
    tensors_.push_back({name, shape, data_bytes_});
    int64_t numel = 1;
    for (const int64_t size : shape) numel *= size;
    data_bytes_ += (static_cast<uint64_t>(numel) * 4 + 31) / 32 * 32;
  }

  void save(const fs::path& path) {
    put_raw("GGUF", 4);
    put<uint32_t>(3);
    put<uint64_t>(tensors_.size());
    put<uint64_t>(1);
    put_string("general.architecture");
    put<uint32_t>(8);  // string
    put_string("flux");
    for (const auto& tensor : tensors_) {
      put_string(tensor.name);
      put<uint32_t>(static_cast<uint32_t>(tensor.shape.size()));
      for (auto it = tensor.shape.rbegin(); it != tensor.shape.rend(); ++it)
        put<uint64_t>(static_cast<uint64_t>(*it));  // ggml order: innermost first
      put<uint32_t>(0);                             // F32
      put<uint64_t>(tensor.offset);
    }
    bytes_.resize((bytes_.size() + 31) / 32 * 32 + data_bytes_, 0);  // zero values
    std::ofstream(path, std::ios::binary)
        .write(bytes_.data(), static_cast<std::streamsize>(bytes_.size()));
  }

 private:
  struct Tensor {
    std::string name;
    std::vector<int64_t> shape;
    uint64_t offset;
  };
  template <class T>
  void put(T value) {
    put_raw(reinterpret_cast<const char*>(&value), sizeof value);
  }
  void put_raw(const char* data, size_t size) { bytes_.insert(bytes_.end(), data, data + size); }
  void put_string(const std::string& text) {
    put<uint64_t>(text.size());
    put_raw(text.data(), text.size());
  }

  std::vector<Tensor> tensors_;
  uint64_t data_bytes_ = 0;
  std::vector<char> bytes_;
};

}  // namespace

void FluxModelsDir::SetUp() {
  DD_REQUIRE_FLUX_FIXTURES();
  dir_ = fs::temp_directory_path() / ("dd-flux-models-" + random_hex(8));
  fs::create_directories(dir_);
}

void FluxModelsDir::TearDown() {
  if (!dir_.empty()) fs::remove_all(dir_);
}

fs::path FluxModelsDir::schnell_dir() { return flux_models() / "flux-schnell-tiny"; }
fs::path FluxModelsDir::fill_dir() { return fill_models() / "flux-fill-dev-tiny"; }

void FluxModelsDir::link(const fs::path& to, const std::string& name) {
  if (fs::is_directory(to))
    fs::create_directory_symlink(to, dir_ / name);
  else
    fs::create_symlink(to, dir_ / name);
}

void FluxModelsDir::write(const std::string& name, const std::string& text) {
  std::ofstream(dir_ / name) << text;
}

void FluxModelsDir::add_schnell_folder(const std::string& id) { link(schnell_dir(), id); }
void FluxModelsDir::add_fill_folder(const std::string& id) { link(fill_dir(), id); }

void FluxModelsDir::add_schnell_file(const std::string& id, const std::string& sidecar) {
  link(flux_models() / "flux-schnell-tiny.safetensors", id + ".safetensors");
  link(flux_models() / "flux-schnell-tiny.arch.json", id + ".arch.json");
  if (!sidecar.empty()) write(id + ".json", sidecar);
}

void FluxModelsDir::add_fill_file(const std::string& id, const std::string& sidecar) {
  link(fill_models() / "flux-fill-dev-tiny.safetensors", id + ".safetensors");
  link(fill_models() / "flux-fill-dev-tiny.arch.json", id + ".arch.json");
  if (!sidecar.empty()) write(id + ".json", sidecar);
}

void FluxModelsDir::add_prefixed_fill_file(const std::string& id) {
  const io::SafetensorsFile file((fill_models() / "flux-fill-dev-tiny.safetensors").string());
  io::NamedTensors tensors;
  for (const auto& entry : file.entries())
    tensors.emplace_back("model.diffusion_model." + entry.name, io::load_tensor(file, entry));
  io::save_safetensors((dir_ / (id + ".safetensors")).string(), tensors);
}

void FluxModelsDir::add_flux_gguf(const std::string& id, int64_t in_channels) {
  GgufWriter gguf;
  gguf.add_f32("img_in.weight", {32, in_channels});
  gguf.add_f32("txt_in.weight", {32, 64});
  gguf.add_f32("final_layer.linear.weight", {64, 32});
  gguf.save(dir_ / (id + ".gguf"));
}

ModelRegistry FluxModelsDir::registry(const std::string& default_model) const {
  return ModelRegistry(dir_.string(), 0, torch::kFloat32, default_model);
}

}  // namespace dd::service::test
