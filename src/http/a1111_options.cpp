#include "http/a1111_options.h"

#include "io/image_codec.h"
#include "pipeline/limits.h"

namespace dd::http {

namespace {

using nlohmann::json;

constexpr size_t kMaxModelName = 300;

// The options listed besides sd_model_checkpoint, at the only values they have here.
const json& fixed_options() {
  static const json options = {{"sd_checkpoint_hash", nullptr},
                               {"sd_vae", "Automatic"},
                               {"CLIP_stop_at_last_layers", 1},
                               {"samples_format", "png"}};
  return options;
}

std::optional<service::ModelInfo> find_available(Api& api, const std::string& name) {
  auto model = api.service.models().find(name);
  if (model && model->available()) return model;
  return std::nullopt;
}

// "name.safetensors [0123abcd]" -> "name.safetensors" -> "name".
std::string without_hash_and_extension(std::string name) {
  const size_t bracket = name.rfind(" [");
  if (bracket != std::string::npos && name.back() == ']') name.erase(bracket);
  for (const char* extension : {".safetensors", ".ckpt", ".gguf"}) {
    const std::string ext = extension;
    if (name.size() > ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0)
      name.erase(name.size() - ext.size());
  }
  return name;
}

std::string text_value(const json& value, const std::string& param) {
  if (!value.is_string() || value.get<std::string>().empty() ||
      value.get<std::string>().size() > kMaxModelName)
    throw bad_parameter(param, param + " must be a model name (GET /sdapi/v1/sd-models)");
  return value.get<std::string>();
}

}  // namespace

std::string a1111_model_id(Api& api, const std::string& name, const std::string& param) {
  auto model = find_available(api, name);
  if (!model) model = find_available(api, without_hash_and_extension(name));
  if (!model)
    throw bad_parameter(
        param, "unknown model '" + name + "' (GET /sdapi/v1/sd-models lists the models by title)");
  return model->id;
}

std::string a1111_checkpoint(Api& api, const std::string& account) {
  if (const auto chosen = api.service.accounts().default_model(account))
    if (const auto model = find_available(api, *chosen)) return model->id;
  return api.service.models().default_model_id();
}

json a1111_options(Api& api, const std::string& account) {
  json options = fixed_options();
  options["sd_model_checkpoint"] = a1111_checkpoint(api, account);
  return options;
}

void set_a1111_options(Api& api, const std::string& account, const json& options) {
  if (!options.is_object()) throw ApiError(400, "invalid_json", "the options must be an object");
  std::optional<std::string> model;
  for (const auto& [name, value] : options.items()) {
    if (name == "sd_model_checkpoint") {
      if (!value.is_null()) model = a1111_model_id(api, text_value(value, name), name);
    } else if (fixed_options().contains(name) && value != fixed_options().at(name)) {
      throw ApiError(422, "unsupported",
                     "option " + name + " can only be " + fixed_options().at(name).dump() +
                         " on this server; only sd_model_checkpoint can be changed",
                     name);
    }
    // Options this server does not have are ignored, as unknown JSON fields are.
  }
  if (model) api.service.accounts().set_default_model(account, *model);
}

A1111Overrides read_overrides(Api& api, const json* settings) {
  A1111Overrides out;
  if (!settings) return out;
  const std::string param = "override_settings";
  for (const auto& [name, value] : settings->items()) {
    const std::string where = param + "." + name;
    if (value.is_null()) continue;
    if (name == "sd_model_checkpoint") {
      out.model = a1111_model_id(api, text_value(value, where), where);
    } else if (name == "CLIP_stop_at_last_layers") {
      if (!value.is_number_integer() || value.get<int64_t>() < 1 ||
          value.get<int64_t>() > pipeline::limits::kMaxClipSkip)
        throw bad_parameter(where, where + " must be a whole number between 1 and " +
                                       std::to_string(pipeline::limits::kMaxClipSkip));
      out.clip_skip = value.get<int>();
    } else if (name == "samples_format") {
      if (!value.is_string()) throw bad_parameter(where, where + " must be png, jpg or webp");
      try {
        out.format = io::canonical_image_format(value.get<std::string>(), where);
      } catch (const Error& e) {
        throw bad_parameter(where, e.what());
      }
    } else if (!fixed_options().contains(name) || value != fixed_options().at(name)) {
      throw ApiError(422, "unsupported",
                     where +
                         " is not supported by this server (supported: sd_model_checkpoint, "
                         "CLIP_stop_at_last_layers, samples_format)",
                     where);
    }
  }
  return out;
}

}  // namespace dd::http
