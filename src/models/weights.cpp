#include "models/weights.h"

#include <optional>
#include <set>

#include "io/tensor_file.h"
#include "models/packed_linear.h"
#include "util/error.h"

namespace dd::models {

FileWeights::FileWeights(std::shared_ptr<const io::SafetensorsFile> file, std::string prefix,
                         KeyRename rename)
    : file_(std::move(file)), prefix_(std::move(prefix)), rename_(std::move(rename)) {}

std::string FileWeights::stored_key(const std::string& name) const {
  return prefix_ + (rename_ ? rename_(name) : name);
}

torch::Tensor FileWeights::get(const std::string& name) const {
  return io::load_tensor(*file_, stored_key(name), torch::kFloat32);
}

bool FileWeights::has(const std::string& name) const { return file_->contains(stored_key(name)); }

void FileWeights::release_pages() const { file_->release_pages(); }

namespace {

std::vector<int64_t> without_trailing_ones(at::IntArrayRef sizes) {
  std::vector<int64_t> out(sizes.begin(), sizes.end());
  while (!out.empty() && out.back() == 1) out.pop_back();
  return out;
}

void copy_into(torch::Tensor& target, torch::Tensor value, const std::string& part,
               const std::string& name) {
  if (value.sizes() != target.sizes()) {
    if (without_trailing_ones(value.sizes()) != without_trailing_ones(target.sizes()))
      throw Error(part + ": tensor '" + name + "' has shape " + c10::str(value.sizes()) +
                  " but the model expects " + c10::str(target.sizes()) +
                  " (checkpoint and architecture disagree)");
    value = value.reshape(target.sizes());
  }
  torch::NoGradGuard no_grad;
  target.copy_(value);
}

// Attaches the source's packed weights to the PackedLinear layers in `module` and below; adds
// the names of the placeholder weights of every packed layer, which are not loaded. (A walk
// over the children, as named_modules() needs the module to be held by a shared_ptr.)
void attach_packed(torch::nn::Module& module, const std::string& prefix, const WeightSource& source,
                   const std::string& part, std::set<std::string>& placeholders) {
  if (auto* linear = dynamic_cast<PackedLinearImpl*>(&module)) {
    const std::string name = prefix + "weight";
    if (!linear->is_packed()) {
      if (auto packed = source.packed(name)) {
        try {
          linear->set_packed(std::move(packed));
        } catch (const Error& e) {
          throw Error(part + ": tensor '" + name + "': " + e.what() +
                      " (checkpoint and architecture disagree)");
        }
      }
    }
    if (linear->is_packed()) placeholders.insert(name);
  }
  for (auto& child : module.named_children())
    attach_packed(*child.value(), prefix + child.key() + ".", source, part, placeholders);
}

}  // namespace

void load_weights(torch::nn::Module& module, const WeightSource& source, const std::string& part,
                  int64_t release_every_bytes) {
  int64_t copied_since_release = 0;
  const auto load = [&](const std::string& name, torch::Tensor& target) {
    torch::Tensor value = source.get(name);
    copied_since_release += value.nbytes();
    copy_into(target, std::move(value), part, name);
    if (copied_since_release < release_every_bytes) return;
    source.release_pages();
    copied_since_release = 0;
  };
  std::set<std::string> placeholders;
  attach_packed(module, "", source, part, placeholders);
  for (auto& item : module.named_parameters(/*recurse=*/true))
    if (!placeholders.count(item.key())) load(item.key(), item.value());
  for (auto& item : module.named_buffers(/*recurse=*/true)) load(item.key(), item.value());
}

torch::ScalarType stored_float_type(const io::SafetensorsFile& file, const std::string& prefix) {
  std::optional<io::DType> shared;
  for (const auto& entry : file.entries()) {
    if (entry.name.compare(0, prefix.size(), prefix) != 0) continue;
    if (!io::is_floating(entry.dtype)) continue;  // integer buffers such as position_ids
    if (shared && *shared != entry.dtype) return torch::kFloat32;
    shared = entry.dtype;
  }
  if (shared == io::DType::F16) return torch::kHalf;
  if (shared == io::DType::BF16) return torch::kBFloat16;
  if (shared == io::DType::F8_E4M3) return torch::kFloat8_e4m3fn;
  if (shared == io::DType::F8_E5M2) return torch::kFloat8_e5m2;
  return torch::kFloat32;
}

}  // namespace dd::models
