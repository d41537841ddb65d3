#include "cli/model_choice.h"

#include <cstdlib>
#include <filesystem>

#include "util/error.h"

#ifndef DD_BUILTIN_MODELS_DIR
#define DD_BUILTIN_MODELS_DIR "models"
#endif

namespace dd::cli {

namespace fs = std::filesystem;

namespace {

ModelChoice from_path(const std::string& path, torch::ScalarType dtype) {
  ModelChoice choice;
  choice.source.path = path;
  choice.source.dtype = dtype;
  choice.name = fs::path(path).stem().string();
  return choice;
}

ModelChoice from_registry(const std::string& id, const std::string& models_dir,
                          torch::ScalarType dtype) {
  // No memory budget: the registry only resolves names here, the command loads the model.
  service::ModelRegistry registry(models_dir, 0, dtype);
  const auto info = registry.find(id);
  if (!info)
    throw Error("--model '" + id + "': no such file or folder, and no model of that name in " +
                models_dir);
  if (!info->available()) throw Error("model '" + info->id + "' is unavailable: " + info->error);
  ModelChoice choice;
  choice.source = service::model_source(*info, dtype);  // a FLUX file's parts included
  choice.defaults = info->defaults;
  choice.name = info->id;
  choice.by_id = true;
  return choice;
}

ModelChoice choose_by_name(const std::string& id_or_path, const std::string& models_dir,
                           torch::ScalarType dtype) {
  const std::string dir = models_dir.empty() ? builtin_models_dir() : models_dir;
  if (id_or_path.empty()) {
    if (!has_builtin_model(dir))
      throw Error(std::string("no --model given and the built-in model '") + kBuiltinModelId +
                  "' is not in " + dir +
                  " (train it with `diffusiond train`, or name a model with --model)");
    return from_registry(kBuiltinModelId, dir, dtype);
  }
  // A path that exists wins, as `generate --model PATH` always meant a path.
  if (fs::exists(id_or_path)) return from_path(id_or_path, dtype);
  if (!fs::is_directory(dir))
    throw Error("--model '" + id_or_path + "': no such file or folder (and no models directory " +
                dir + " to look it up in)");
  return from_registry(id_or_path, dir, dtype);
}

}  // namespace

std::string builtin_models_dir() {
  const char* env = std::getenv("DIFFUSIOND_MODELS_DIR");
  return env && *env ? env : DD_BUILTIN_MODELS_DIR;
}

bool has_builtin_model(const std::string& models_dir) {
  return fs::exists(fs::path(models_dir) / kBuiltinModelId / "unet" / "config.json");
}

ModelChoice choose_model(const std::string& id_or_path, const std::string& models_dir,
                         torch::ScalarType dtype, torch::Device device) {
  ModelChoice choice = choose_by_name(id_or_path, models_dir, dtype);
  choice.source.device = device;
  return choice;
}

}  // namespace dd::cli
