#include "service/model_sidecar.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <utility>

#include "pipeline/resolve.h"
#include "pipeline/sampler_names.h"
#include "util/error.h"

namespace dd::service {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string string_field(const json& object, const char* key, const std::string& where) {
  const auto& value = object.at(key);
  if (!value.is_string()) throw Error(where + key + " must be a string");
  return value.get<std::string>();
}

void reject_unknown_keys(const json& object, const std::set<std::string>& known,
                         const std::string& where) {
  for (const auto& item : object.items())
    if (!known.count(item.key())) throw Error(where + "unknown field '" + item.key() + "'");
}

pipeline::GenerationParams read_defaults(const json& defaults, const std::string& file) {
  const std::string where = file + ": defaults: ";
  auto params = pipeline::GenerationParams::from_json(defaults, where, /*strict=*/true);
  try {
    pipeline::validate_params(params);
    if (params.sampler) params.sampler = pipeline::canonical_sampler_name(*params.sampler);
  } catch (const InvalidParameter& e) {
    throw Error(where + e.param() + ": " + e.what());
  } catch (const Error& e) {
    throw Error(where + "sampler: " + e.what());
  }
  return params;
}

// A sidecar path names a file relative to the models directory; it may not leave it.
std::string inside_models_dir(const fs::path& dir, const std::string& relative,
                              const std::string& what) {
  const fs::path path = (dir / relative).lexically_normal();
  const auto rel = path.lexically_relative(dir.lexically_normal());
  if (relative.empty() || rel.empty() || *rel.begin() == "..")
    throw Error(what + " must be a path inside the models directory");
  if (!fs::exists(path)) throw Error(what + " '" + relative + "' does not exist");
  return path.string();
}

std::vector<std::string> read_aliases(const json& aliases, const std::string& name) {
  if (!aliases.is_array()) throw Error(name + ": aliases must be an array of strings");
  std::vector<std::string> out;
  for (const auto& alias : aliases) {
    if (!alias.is_string() || alias.get<std::string>().empty() ||
        alias.get<std::string>().size() > 200)
      throw Error(name + ": every alias must be a non-empty string of at most 200 characters");
    out.push_back(alias.get<std::string>());
  }
  return out;
}

// The sidecar's FLUX.1 part paths and its drop_t5 flag.
FluxParts read_flux_parts(const fs::path& dir, const json& sidecar, const std::string& name) {
  FluxParts parts;
  const std::pair<const char*, std::string*> paths[] = {{"vae", &parts.vae},
                                                        {"clip_l", &parts.clip_l},
                                                        {"t5xxl", &parts.t5xxl},
                                                        {"t5_tokenizer", &parts.t5_tokenizer},
                                                        {"clip_tokenizer", &parts.clip_tokenizer},
                                                        {"components", &parts.components}};
  for (const auto& [key, out] : paths)
    if (sidecar.contains(key))
      *out = inside_models_dir(dir, string_field(sidecar, key, name + ": "), name + ": " + key);
  if (sidecar.contains("drop_t5")) {
    if (!sidecar.at("drop_t5").is_boolean()) throw Error(name + ": drop_t5 must be true or false");
    parts.drop_t5 = sidecar.at("drop_t5").get<bool>();
  }
  return parts;
}

}  // namespace

std::vector<std::string> FluxParts::part_paths() const {
  std::vector<std::string> out;
  for (const std::string* path : {&vae, &clip_l, &t5xxl, &t5_tokenizer, &clip_tokenizer})
    if (!path->empty()) out.push_back(*path);
  return out;
}

json read_json_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw Error(path.filename().string() + ": cannot open");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw Error(path.filename().string() + ": invalid JSON (" + e.what() + ")");
  }
}

Sidecar read_sidecar(const fs::path& dir, const fs::path& file) {
  const std::string name = file.filename().string();
  const json sidecar = read_json_file(file);
  if (!sidecar.is_object()) throw Error(name + ": must be a JSON object");
  reject_unknown_keys(
      sidecar,
      {"aliases", "defaults", "config", "tokenizer", "description", "fast", "vae", "clip_l",
       "t5xxl", "t5_tokenizer", "clip_tokenizer", "components", "drop_t5", "preview_decoder"},
      name + ": ");
  Sidecar out;
  if (sidecar.contains("fast")) {
    if (!sidecar.at("fast").is_boolean()) throw Error(name + ": fast must be true or false");
    out.fast = sidecar.at("fast").get<bool>();
  }
  if (sidecar.contains("aliases")) out.aliases = read_aliases(sidecar.at("aliases"), name);
  if (sidecar.contains("defaults")) out.defaults = read_defaults(sidecar.at("defaults"), name);
  if (sidecar.contains("description"))
    out.description = string_field(sidecar, "description", name + ": ");
  if (sidecar.contains("config"))
    out.config_json =
        inside_models_dir(dir, string_field(sidecar, "config", name + ": "), name + ": config");
  if (sidecar.contains("tokenizer"))
    out.tokenizer_dir = inside_models_dir(dir, string_field(sidecar, "tokenizer", name + ": "),
                                          name + ": tokenizer");
  if (sidecar.contains("preview_decoder"))
    out.preview_decoder = inside_models_dir(
        dir, string_field(sidecar, "preview_decoder", name + ": "), name + ": preview_decoder");
  out.flux = read_flux_parts(dir, sidecar, name);
  return out;
}

pipeline::GenerationParams fast_model_defaults() {
  pipeline::GenerationParams defaults;
  defaults.steps = 4;
  defaults.cfg = 1.0;
  defaults.sampler = "euler";
  defaults.spacing = "trailing";
  return defaults;
}

bool named_like_a_fast_model(const std::string& id) {
  std::string name = id;
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name.find("lightning") != std::string::npos || name.find("turbo") != std::string::npos;
}

}  // namespace dd::service
