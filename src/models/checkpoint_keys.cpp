#include "models/checkpoint_keys.h"

#include <cctype>
#include <utility>

#include "util/error.h"

namespace dd::models {

namespace {

// Reads a diffusers name from left to right.
class NameReader {
 public:
  explicit NameReader(const std::string& name) : rest_(name) {}

  // Consumes `word` (with its trailing '.') when the rest starts with it.
  bool eat(const std::string& word) {
    if (rest_.compare(0, word.size(), word) != 0) return false;
    rest_.erase(0, word.size());
    return true;
  }
  // Consumes "<digits>." and returns the number, or -1.
  int index() {
    size_t n = 0;
    while (n < rest_.size() && std::isdigit(static_cast<unsigned char>(rest_[n]))) ++n;
    if (n == 0 || n > 6 || n >= rest_.size() || rest_[n] != '.') return -1;
    const int value = std::stoi(rest_.substr(0, n));
    rest_.erase(0, n + 1);
    return value;
  }
  const std::string& rest() const { return rest_; }

 private:
  std::string rest_;
};

// ResNet layers: LDM keeps nn.Sequential indices (GroupNorm, SiLU, conv / SiLU, Linear /
// GroupNorm, SiLU, Dropout, conv).
std::string resnet_tail(NameReader& r) {
  static const std::pair<const char*, const char*> kNames[] = {
      {"norm1.", "in_layers.0."},          {"conv1.", "in_layers.2."},
      {"time_emb_proj.", "emb_layers.1."}, {"norm2.", "out_layers.0."},
      {"conv2.", "out_layers.3."},         {"conv_shortcut.", "skip_connection."}};
  for (const auto& [diffusers, ldm] : kNames)
    if (r.eat(diffusers)) return ldm + r.rest();
  return "";
}

}  // namespace

std::string unet_single_file_key(const std::string& name, const UNetConfig& config) {
  // Blocks per level: down = resnets + the downsampler, up = one resnet more (upsampling shares
  // the last block).
  const int per_level = config.layers_per_block + 1;
  const auto fail = [&]() -> std::string {
    throw Error("unet: no single-file name for parameter '" + name + "'");
  };
  const auto in_range = [&](int i, int end) { return i >= 0 && i < end; };

  static const std::pair<const char*, const char*> kTopLevel[] = {
      {"conv_in.", "input_blocks.0.0."},
      {"time_embedding.linear_1.", "time_embed.0."},
      {"time_embedding.linear_2.", "time_embed.2."},
      {"add_embedding.linear_1.", "label_emb.0.0."},
      {"add_embedding.linear_2.", "label_emb.0.2."},
      {"conv_norm_out.", "out.0."},
      {"conv_out.", "out.2."}};
  NameReader r(name);
  for (const auto& [diffusers, ldm] : kTopLevel)
    if (r.eat(diffusers)) return ldm + r.rest();

  if (r.eat("mid_block.")) {
    if (r.eat("attentions.0.")) return "middle_block.1." + r.rest();
    if (!r.eat("resnets.")) return fail();
    const int j = r.index();
    const auto tail = in_range(j, 2) ? resnet_tail(r) : "";
    return tail.empty() ? fail() : "middle_block." + std::to_string(2 * j) + "." + tail;
  }

  const bool down = r.eat("down_blocks.");
  if (!down && !r.eat("up_blocks.")) return fail();
  const int i = r.index();
  if (!in_range(i, config.levels())) return fail();
  // input_blocks.0 is conv_in; output_blocks start at 0.
  const auto block = [&](int j) {
    return (down ? "input_blocks." + std::to_string(1 + i * per_level + j)
                 : "output_blocks." + std::to_string(i * per_level + j)) +
           ".";
  };
  const int resnets = down ? config.layers_per_block : config.layers_per_block + 1;
  if (r.eat("resnets.")) {
    const int j = r.index();
    const auto tail = in_range(j, resnets) ? resnet_tail(r) : "";
    return tail.empty() ? fail() : block(j) + "0." + tail;
  }
  if (r.eat("attentions.")) {
    const int j = r.index();
    return in_range(j, resnets) ? block(j) + "1." + r.rest() : fail();
  }
  if (down && r.eat("downsamplers.0.conv."))
    return block(config.layers_per_block) + "0.op." + r.rest();
  if (!down && r.eat("upsamplers.0.conv.")) {
    // The upsampler follows the last resnet, and its attention when the level has one.
    const bool attention = config.has_attention(config.levels() - 1 - i);
    return block(config.layers_per_block) + (attention ? "2" : "1") + ".conv." + r.rest();
  }
  return fail();
}

}  // namespace dd::models
