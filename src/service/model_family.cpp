#include "service/model_family.h"

#include <functional>
#include <optional>
#include <utility>

#include "io/gguf.h"
#include "io/safetensors.h"
#include "models/presets.h"
#include "service/model_sidecar.h"
#include "util/error.h"

namespace dd::service {

namespace fs = std::filesystem;

namespace {

// A FLUX transformer's input and output channels (64 and 64; FLUX.1 Fill 384 and 64).
using Channels = std::pair<int64_t, int64_t>;
// A tensor's shape by stored name; nullopt when the file has no such tensor.
using ShapeOf = std::function<std::optional<std::vector<int64_t>>(const std::string&)>;

bool ends_with(const std::string& text, const std::string& end) {
  return text.size() >= end.size() && text.compare(text.size() - end.size(), end.size(), end) == 0;
}

std::string flux_family(const Channels& channels) {
  return channels.first > channels.second ? "flux-inpaint" : "flux";
}

// The channels of a FLUX transformer among `names`, in BFL layout (img_in beside txt_in, under
// any prefix: ComfyUI's model.diffusion_model., an all-in-one checkpoint's) or diffusers layout
// (x_embedder beside context_embedder).
std::optional<Channels> flux_channels(const std::vector<std::string>& names,
                                      const ShapeOf& shape_of) {
  const struct {
    const char *in, *text, *out;
  } layouts[] = {{"img_in.weight", "txt_in.weight", "final_layer.linear.weight"},
                 {"x_embedder.weight", "context_embedder.weight", "proj_out.weight"}};
  for (const auto& layout : layouts)
    for (const auto& name : names) {
      if (!ends_with(name, layout.in)) continue;
      const std::string prefix = name.substr(0, name.size() - std::string(layout.in).size());
      const auto in = shape_of(name);
      if (!shape_of(prefix + layout.text) || !in || in->size() != 2) continue;
      const auto out = shape_of(prefix + layout.out);
      return Channels{(*in)[1], out && out->size() == 2 ? (*out)[0] : (*in)[1]};
    }
  return std::nullopt;
}

std::optional<Channels> flux_channels(const io::SafetensorsFile& file) {
  std::vector<std::string> names;
  for (const auto& entry : file.entries()) names.push_back(entry.name);
  return flux_channels(names, [&](const std::string& name) -> std::optional<std::vector<int64_t>> {
    const auto* entry = file.find(name);
    if (!entry) return std::nullopt;
    return entry->shape;
  });
}

std::optional<Channels> flux_channels(const io::GgufFile& file) {
  std::vector<std::string> names;
  for (const auto& tensor : file.tensors()) names.push_back(tensor.name);
  return flux_channels(names, [&](const std::string& name) -> std::optional<std::vector<int64_t>> {
    const auto* tensor = file.find(name);
    if (!tensor) return std::nullopt;
    return tensor->shape();
  });
}

// diffusers writes out_channels null when it equals in_channels.
Channels config_channels(const nlohmann::json& config) {
  const int64_t in = config.value("in_channels", int64_t{64});
  const auto out = config.find("out_channels");
  return {in, out != config.end() && out->is_number_integer() ? out->get<int64_t>() : in};
}

// A Stable Diffusion single file's family: the preset its keys and shapes fit.
std::string sd_checkpoint_family(const io::SafetensorsFile& checkpoint) {
  try {
    const auto config = models::preset(models::detect_preset(checkpoint));
    const std::string family = models::family_name(config.family);
    return config.unet.in_channels == 9 ? family + "-inpaint" : family;
  } catch (const Error&) {
    return "";  // another size or layout: the load will say what it makes of it
  }
}

std::string folder_family(const fs::path& dir) {
  if (fs::exists(dir / "transformer" / "config.json"))
    return flux_family(config_channels(read_json_file(dir / "transformer" / "config.json")));
  if (!fs::exists(dir / "model_index.json")) return "";
  const std::string pipeline_class =
      read_json_file(dir / "model_index.json").value("_class_name", "");
  if (pipeline_class.rfind("Flux", 0) == 0)
    return pipeline_class.find("Fill") != std::string::npos ? "flux-inpaint" : "flux";
  if (pipeline_class.find("XL") != std::string::npos) return "sdxl";
  if (pipeline_class.find("Inpaint") != std::string::npos) return "sd1-inpaint";
  // SD 2.x: OpenCLIP text encoder with linear projections in the UNet's transformers.
  const bool linear =
      read_json_file(dir / "unet" / "config.json").value("use_linear_projection", false);
  return linear ? "sd2" : "sd1";
}

// An architecture file names the family; for FLUX the checkpoint's shapes (else the file's
// transformer section) tell Fill from text-to-image.
std::string arch_family(const fs::path& arch, const std::optional<Channels>& from_checkpoint) {
  const auto json = read_json_file(arch);
  const std::string family = json.value("family", "");
  if (family != "flux") return family;
  if (from_checkpoint) return flux_family(*from_checkpoint);
  const auto transformer = json.find("transformer");
  return transformer != json.end() && transformer->is_object()
             ? flux_family(config_channels(*transformer))
             : family;
}

// The sidecar's architecture file, else NAME.arch.json beside the file.
fs::path arch_file(const fs::path& file, const std::string& config_json) {
  if (!config_json.empty()) return config_json;
  const fs::path beside = file.parent_path() / (file.stem().string() + ".arch.json");
  return fs::exists(beside) ? beside : fs::path();
}

// Runs a guess; any problem in the files means "not known yet" (the load will say what).
std::string or_unknown(const std::function<std::string()>& guess) {
  try {
    return guess();
  } catch (const std::exception&) {
    return "";
  }
}

}  // namespace

bool is_flux_folder(const fs::path& dir) {
  if (!fs::is_directory(dir)) return false;
  if (fs::exists(dir / "transformer" / "config.json")) return true;
  if (!fs::exists(dir / "model_index.json")) return false;
  return or_unknown([&] {
           return read_json_file(dir / "model_index.json").value("_class_name", "");
         }).rfind("Flux", 0) == 0;
}

std::string family_from_files(const fs::path& path, const std::string& config_json) {
  if (fs::is_directory(path))
    return or_unknown([&] {
      if (!config_json.empty()) return arch_family(config_json, std::nullopt);
      return folder_family(path);
    });
  const fs::path arch = arch_file(path, config_json);
  if (path.extension() == ".gguf") {
    const io::GgufFile file(path.string());  // throws when it is no GGUF file
    return or_unknown([&] {
      const auto channels = flux_channels(file);
      if (!arch.empty()) return arch_family(arch, channels);
      return channels ? flux_family(*channels) : std::string();
    });
  }
  const io::SafetensorsFile file(path.string());  // throws when it is no safetensors file
  return or_unknown([&] {
    const auto channels = flux_channels(file);
    if (!arch.empty()) return arch_family(arch, channels);
    return channels ? flux_family(*channels) : sd_checkpoint_family(file);
  });
}

}  // namespace dd::service
