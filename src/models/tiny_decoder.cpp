#include "models/tiny_decoder.h"

#include <algorithm>
#include <cctype>
#include <memory>
#include <optional>

#include "io/safetensors.h"
#include "io/tensor_file.h"
#include "models/weights.h"
#include "util/error.h"

namespace dd::models {

namespace {

namespace nn = torch::nn;

nn::Conv2d conv3x3(int in, int out, bool bias = true) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, 3).padding(1).bias(bias));
}

// relu(conv(relu(conv(relu(conv(x))))) + x): the residual block, always C -> C in the decoder.
class TinyBlockImpl : public nn::Module {
 public:
  explicit TinyBlockImpl(int channels) {
    conv_ = register_module(
        "conv", nn::Sequential(conv3x3(channels, channels), nn::ReLU(), conv3x3(channels, channels),
                               nn::ReLU(), conv3x3(channels, channels)));
  }
  torch::Tensor forward(const torch::Tensor& x) { return torch::relu(conv_->forward(x) + x); }

 private:
  nn::Sequential conv_{nullptr};
};
TORCH_MODULE(TinyBlock);

// Layers of the module, in order (see the header): the index where a file's layout stores them.
int layer_count(const TinyDecoderConfig& c) {
  return 2 + c.upsamples * (c.blocks_per_stage + 2) + 2;
}

// The leading layer index of `key` after `prefix` ("3.conv.0.weight" -> 3), if it has one.
std::optional<int> layer_index(const std::string& key, const std::string& prefix) {
  if (key.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  size_t end = prefix.size();
  while (end < key.size() && std::isdigit(static_cast<unsigned char>(key[end]))) ++end;
  if (end == prefix.size() || end == key.size() || key[end] != '.' || end - prefix.size() > 3)
    return std::nullopt;
  return std::stoi(key.substr(prefix.size(), end - prefix.size()));
}

// Where a layout keeps its layers: the key prefix, and the stored index of our layer 0.
struct Layout {
  std::string prefix;
  int offset = 0;
};

Layout detect_layout(const io::SafetensorsFile& file) {
  if (file.contains("decoder.layers.0.weight")) return {"decoder.layers.", 0};
  if (file.contains("1.weight")) return {"", 1};  // original TAESD: layer 0 is the clamp
  throw Error(file.path() +
              ": not a TAESD-style tiny decoder (it has neither 'decoder.layers.0.weight' nor "
              "'1.weight'; an encoder file will not do)");
}

TinyDecoderConfig config_from(const io::SafetensorsFile& file, const Layout& layout) {
  const auto& first = file.at(layout.prefix + std::to_string(layout.offset) + ".weight");
  if (first.shape.size() != 4 || first.shape[2] != 3 || first.shape[3] != 3)
    throw Error(file.path() + ": the first layer of a tiny decoder is a 3x3 convolution, not " +
                c10::str(c10::IntArrayRef(first.shape)));
  TinyDecoderConfig config;
  config.channels = static_cast<int>(first.shape[0]);
  config.latent_channels = static_cast<int>(first.shape[1]);
  int last = 0;
  for (const auto& entry : file.entries())
    if (auto index = layer_index(entry.name, layout.prefix)) last = std::max(last, *index);
  last -= layout.offset;
  config.blocks_per_stage = 0;
  while (file.contains(layout.prefix + std::to_string(layout.offset + 2 + config.blocks_per_stage) +
                       ".conv.0.weight"))
    ++config.blocks_per_stage;
  const int stages = (last + 1 - 4) / std::max(1, config.blocks_per_stage + 2);
  config.upsamples = stages;
  if (config.blocks_per_stage < 1 || stages < 0 || stages > 6 || layer_count(config) != last + 1 ||
      config.channels < 1 || config.latent_channels < 1)
    throw Error(file.path() + ": its layers (" + std::to_string(last + 1) + ", blocks of " +
                std::to_string(config.blocks_per_stage) + ") do not form a TAESD-style decoder");
  return config;
}

}  // namespace

TinyDecoderImpl::TinyDecoderImpl(const TinyDecoderConfig& config) : config_(config) {
  if (config.latent_channels < 1 || config.channels < 1 || config.upsamples < 0 ||
      config.blocks_per_stage < 1)
    throw Error("tiny decoder: channels, upsamples and blocks must be positive");
  nn::Sequential layers;
  layers->push_back(conv3x3(config.latent_channels, config.channels));
  layers->push_back(nn::ReLU());
  for (int stage = 0; stage < config.upsamples; ++stage) {
    for (int block = 0; block < config.blocks_per_stage; ++block)
      layers->push_back(TinyBlock(config.channels));
    layers->push_back(nn::Upsample(
        nn::UpsampleOptions().scale_factor(std::vector<double>{2, 2}).mode(torch::kNearest)));
    layers->push_back(conv3x3(config.channels, config.channels, /*bias=*/false));
  }
  layers->push_back(TinyBlock(config.channels));
  layers->push_back(conv3x3(config.channels, 3));
  layers_ = register_module("layers", layers);
}

torch::Tensor TinyDecoderImpl::forward(const torch::Tensor& latents) {
  if (latents.dim() != 4 || latents.size(1) != config_.latent_channels)
    throw Error("tiny decoder: expected latents [N, " + std::to_string(config_.latent_channels) +
                ", h, w], got " + c10::str(latents.sizes()));
  return layers_->forward(torch::tanh(latents / 3) * 3).clamp(0, 1);
}

TinyDecoder load_tiny_decoder(const std::string& path) {
  const auto file = std::make_shared<const io::SafetensorsFile>(path);
  const Layout layout = detect_layout(*file);
  TinyDecoder decoder(config_from(*file, layout));
  // Our names are "layers.<i>.<rest>"; the file's are "<prefix><i + offset>.<rest>".
  const FileWeights weights(file, layout.prefix, [offset = layout.offset](const std::string& name) {
    const std::string rest = name.substr(name.find('.') + 1);  // drop "layers."
    const size_t dot = rest.find('.');
    return std::to_string(std::stoi(rest.substr(0, dot)) + offset) + rest.substr(dot);
  });
  load_weights(*decoder, weights, "tiny decoder " + path);
  decoder->eval();
  return decoder;
}

void save_tiny_decoder(TinyDecoder& decoder, const std::string& path) {
  io::NamedTensors tensors;
  for (const auto& item : decoder->named_parameters(/*recurse=*/true))
    tensors.emplace_back("decoder." + item.key(), item.value().detach().to(torch::kFloat32));
  io::save_safetensors(path, tensors);
}

}  // namespace dd::models
