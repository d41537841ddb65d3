#include "models/vae_keys.h"

#include <sstream>
#include <vector>

#include "util/error.h"

namespace dd::models {

namespace {

std::vector<std::string> split(const std::string& name) {
  std::vector<std::string> parts;
  std::stringstream in(name);
  for (std::string part; std::getline(in, part, '.');) parts.push_back(part);
  return parts;
}

std::string join(const std::vector<std::string>& parts, size_t from) {
  std::string out;
  for (size_t i = from; i < parts.size(); ++i) out += (out.empty() ? "" : ".") + parts[i];
  return out;
}

int level_index(const std::string& text, int levels, const std::string& name) {
  size_t used = 0;
  int level = -1;
  try {
    level = std::stoi(text, &used);
  } catch (const std::exception&) {
  }
  if (used != text.size() || level < 0 || level >= levels)
    throw Error("vae: '" + name + "' names level " + text + " of a " + std::to_string(levels) +
                "-level VAE");
  return level;
}

// A ResNet's own parameters keep their names except the 1x1 shortcut.
std::string resnet_tail(const std::vector<std::string>& parts, size_t from) {
  std::string tail = join(parts, from);
  if (tail.rfind("conv_shortcut.", 0) == 0) return "nin_shortcut." + tail.substr(14);
  return tail;
}

// mid_block.{resnets.0, attentions.0, resnets.1}.* -> mid.{block_1, attn_1, block_2}.*
std::string mid_name(const std::vector<std::string>& p, const std::string& name) {
  if (p.size() > 4 && p[2] == "resnets" && (p[3] == "0" || p[3] == "1"))
    return "mid.block_" + std::to_string(p[3] == "0" ? 1 : 2) + "." + resnet_tail(p, 4);
  if (p.size() > 4 && p[2] == "attentions" && p[3] == "0") {
    const std::string tail = join(p, 4);
    static const std::pair<const char*, const char*> renames[] = {{"group_norm.", "norm."},
                                                                  {"to_q.", "q."},
                                                                  {"to_k.", "k."},
                                                                  {"to_v.", "v."},
                                                                  {"to_out.0.", "proj_out."}};
    for (const auto& [from, to] : renames) {
      const std::string f = from;
      if (tail.rfind(f, 0) == 0) return "mid.attn_1." + std::string(to) + tail.substr(f.size());
    }
  }
  throw Error("vae: no single-file name for '" + name + "'");
}

}  // namespace

std::string vae_ldm_name(const std::string& name, const VaeConfig& config) {
  const auto p = split(name);
  const int levels = static_cast<int>(config.block_out_channels.size());
  if (p.size() < 2) throw Error("vae: no single-file name for '" + name + "'");
  if (p[0] == "quant_conv" || p[0] == "post_quant_conv") return name;
  if (p[0] != "encoder" && p[0] != "decoder")
    throw Error("vae: no single-file name for '" + name + "'");
  const std::string& part = p[0];
  const std::string& block = p[1];

  if (block == "conv_in" || block == "conv_out") return name;
  if (block == "conv_norm_out") return part + ".norm_out." + join(p, 2);
  if (block == "mid_block") return part + "." + mid_name(p, name);
  if (p.size() > 5 && part == "encoder" && block == "down_blocks") {
    const int i = level_index(p[2], levels, name);
    const std::string level = "encoder.down." + std::to_string(i);
    if (p[3] == "resnets") return level + ".block." + p[4] + "." + resnet_tail(p, 5);
    if (p[3] == "downsamplers" && p[4] == "0") return level + ".downsample." + join(p, 5);
  }
  if (p.size() > 5 && part == "decoder" && block == "up_blocks") {
    // diffusers counts up blocks from the lowest resolution, LDM from the highest.
    const int i = level_index(p[2], levels, name);
    const std::string level = "decoder.up." + std::to_string(levels - 1 - i);
    if (p[3] == "resnets") return level + ".block." + p[4] + "." + resnet_tail(p, 5);
    if (p[3] == "upsamplers" && p[4] == "0") return level + ".upsample." + join(p, 5);
  }
  throw Error("vae: no single-file name for '" + name + "'");
}

std::string vae_single_file_key(const std::string& diffusers_name, const VaeConfig& config) {
  return kVaeSingleFilePrefix + vae_ldm_name(diffusers_name, config);
}

std::unique_ptr<WeightSource> vae_ldm_weights(std::shared_ptr<const io::SafetensorsFile> file,
                                              const VaeConfig& config, const std::string& prefix) {
  return std::make_unique<FileWeights>(std::move(file), prefix, [config](const std::string& name) {
    return vae_ldm_name(name, config);
  });
}

}  // namespace dd::models
