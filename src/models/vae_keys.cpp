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

namespace {

const io::TensorEntry& ldm_entry(const io::SafetensorsFile& file, const std::string& prefix,
                                 const std::string& name) {
  const io::TensorEntry* entry = file.find(prefix + name);
  if (!entry)
    throw Error("vae: " + file.path() + " has no '" + prefix + name +
                "' (not an LDM-layout VAE under prefix '" + prefix + "')");
  return *entry;
}

int64_t dim_of(const io::TensorEntry& entry, size_t index) {
  if (entry.shape.size() <= index)
    throw Error("vae: '" + entry.name + "' has shape of rank " +
                std::to_string(entry.shape.size()));
  return entry.shape[index];
}

bool has_key_under(const io::SafetensorsFile& file, const std::string& head) {
  for (const auto& entry : file.entries())
    if (entry.name.rfind(head, 0) == 0) return true;
  return false;
}

// How many consecutive `<stem>N.` indices, from 0, some key starts with.
int count_indexed(const io::SafetensorsFile& file, const std::string& stem) {
  int count = 0;
  while (has_key_under(file, stem + std::to_string(count) + ".")) ++count;
  return count;
}

}  // namespace

VaeConfig vae_config_from_ldm_keys(const io::SafetensorsFile& file, const std::string& prefix,
                                   VaeConfig base) {
  const int levels = count_indexed(file, prefix + "encoder.down.");
  if (levels == 0)
    throw Error("vae: " + file.path() + " has no '" + prefix +
                "encoder.down.0.*' keys (not an LDM-layout VAE)");
  base.block_out_channels.clear();
  for (int i = 0; i < levels; ++i)
    base.block_out_channels.push_back(static_cast<int>(dim_of(
        ldm_entry(file, prefix, "encoder.down." + std::to_string(i) + ".block.0.conv1.weight"),
        0)));
  base.layers_per_block = count_indexed(file, prefix + "encoder.down.0.block.");
  base.in_channels = static_cast<int>(dim_of(ldm_entry(file, prefix, "encoder.conv_in.weight"), 1));
  base.out_channels =
      static_cast<int>(dim_of(ldm_entry(file, prefix, "decoder.conv_out.weight"), 0));
  base.latent_channels =
      static_cast<int>(dim_of(ldm_entry(file, prefix, "decoder.conv_in.weight"), 1));
  base.use_quant_conv = file.contains(prefix + "quant_conv.weight");
  base.use_post_quant_conv = file.contains(prefix + "post_quant_conv.weight");
  return base;
}

}  // namespace dd::models
