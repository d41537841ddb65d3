#include "models/component_files.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "io/tensor_file.h"
#include "util/error.h"

namespace dd::models {

namespace fs = std::filesystem;

namespace {

SafetensorsFiles shards_of(const fs::path& dir, const fs::path& index) {
  std::ifstream in(index);
  if (!in) throw Error(index.string() + ": cannot open");
  std::set<std::string> names;
  try {
    // Held in a variable: a range-for over parse(in).at(...) would walk a destroyed temporary.
    const nlohmann::json parsed = nlohmann::json::parse(in);
    for (const auto& shard : parsed.at("weight_map")) names.insert(shard.get<std::string>());
  } catch (const nlohmann::json::exception& e) {
    throw Error(index.string() + ": not a shard index (" + e.what() + ")");
  }
  if (names.empty()) throw Error(index.string() + ": the shard index lists no file");
  SafetensorsFiles files;
  for (const auto& name : names) {
    if (name.empty() || name.find('/') != std::string::npos || name.find("..") != std::string::npos)
      throw Error(index.string() + ": names a shard outside its folder: '" + name + "'");
    files.push_back(std::make_shared<const io::SafetensorsFile>((dir / name).string()));
  }
  return files;
}

}  // namespace

SafetensorsFiles component_weight_files(const std::string& component_dir) {
  const fs::path dir(component_dir);
  for (const char* stem : {"diffusion_pytorch_model", "model"}) {
    for (const char* variant : {"", ".fp16"}) {
      const fs::path single = dir / (std::string(stem) + variant + ".safetensors");
      if (fs::exists(single)) return {std::make_shared<const io::SafetensorsFile>(single.string())};
      const fs::path index = dir / (std::string(stem) + variant + ".safetensors.index.json");
      if (fs::exists(index)) return shards_of(dir, index);
    }
  }
  throw Error(component_dir +
              ": no .safetensors weights (nor a shard index) found; only safetensors is read");
}

MultiFileWeights::MultiFileWeights(SafetensorsFiles files, std::string prefix, KeyRename rename)
    : files_(std::move(files)), prefix_(std::move(prefix)), rename_(std::move(rename)) {}

std::string MultiFileWeights::stored_key(const std::string& name) const {
  return prefix_ + (rename_ ? rename_(name) : name);
}

const io::SafetensorsFile* MultiFileWeights::holder(const std::string& key) const {
  for (const auto& file : files_)
    if (file->contains(key)) return file.get();
  return nullptr;
}

torch::Tensor MultiFileWeights::get(const std::string& name) const {
  const std::string key = stored_key(name);
  const auto* file = holder(key);
  if (!file)
    throw Error((files_.empty() ? std::string("no files") : files_.front()->path()) +
                (files_.size() > 1 ? " (and its other shards)" : "") + ": no tensor '" + key + "'");
  return io::load_tensor(*file, key, torch::kFloat32);
}

bool MultiFileWeights::has(const std::string& name) const {
  return holder(stored_key(name)) != nullptr;
}

void MultiFileWeights::release_pages() const {
  for (const auto& file : files_) file->release_pages();
}

}  // namespace dd::models
