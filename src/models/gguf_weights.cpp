#include "models/gguf_weights.h"

#include <regex>

#include "util/error.h"

namespace dd::models {

namespace {

bool is_block_quantised(io::GgmlType type) {
  return type != io::GgmlType::F32 && type != io::GgmlType::F16 && type != io::GgmlType::BF16 &&
         io::ggml_block(type).elements > 1;
}

}  // namespace

GgufWeights::GgufWeights(std::shared_ptr<const io::GgufFile> file, std::string prefix,
                         KeyRename rename)
    : file_(std::move(file)), prefix_(std::move(prefix)), rename_(std::move(rename)) {}

std::string GgufWeights::stored_key(const std::string& name) const {
  return prefix_ + (rename_ ? rename_(name) : name);
}

bool GgufWeights::has(const std::string& name) const { return file_->contains(stored_key(name)); }

// city96's converter stores some tensors flattened and records their shape in the metadata.
std::vector<int64_t> GgufWeights::shape_of(const io::GgufTensor& tensor) const {
  const io::GgufValue* recorded = file_->find_value("comfy.gguf.orig_shape." + tensor.name);
  if (!recorded) return tensor.shape();
  std::vector<int64_t> shape;
  int64_t numel = 1;
  try {
    for (const auto& size : recorded->as_array().items) {
      shape.push_back(size.as_int());
      if (shape.back() < 0) throw Error("a negative size");
      numel *= shape.back();
    }
  } catch (const Error& e) {
    throw Error(file_->path() + ": tensor '" + tensor.name +
                "': its recorded original shape is not a list of sizes (" + e.what() + ")");
  }
  if (numel != tensor.numel())
    throw Error(file_->path() + ": tensor '" + tensor.name + "': recorded original shape " +
                c10::str(shape) + " does not hold its " + std::to_string(tensor.numel()) +
                " values");
  return shape;
}

torch::Tensor GgufWeights::get(const std::string& name) const {
  const io::GgufTensor& tensor = file_->at(stored_key(name));
  return file_->load(tensor, torch::kFloat32).view(shape_of(tensor));
}

std::shared_ptr<const PackedWeight> GgufWeights::packed(const std::string& name) const {
  const io::GgufTensor* tensor = file_->find(stored_key(name));
  if (!tensor || tensor->ne.size() != 2 || !is_block_quantised(tensor->type)) return nullptr;
  if (!io::ggml_block(tensor->type).expandable)
    throw Error(file_->path() + ": tensor '" + tensor->name + "' is stored as " +
                io::ggml_type_name(tensor->type) + ", which diffusiond cannot expand yet");
  return std::make_shared<GgufPackedWeight>(file_, *tensor);
}

void GgufWeights::release_pages() const { file_->release_pages(); }

GgufPackedWeight::GgufPackedWeight(std::shared_ptr<const io::GgufFile> file,
                                   const io::GgufTensor& tensor)
    : file_(std::move(file)), tensor_(&tensor) {}

torch::Tensor GgufPackedWeight::expand(torch::ScalarType dtype) const {
  return file_->load(*tensor_, dtype);
}

std::vector<int64_t> GgufPackedWeight::shape() const { return tensor_->shape(); }

int64_t GgufPackedWeight::stored_bytes() const { return static_cast<int64_t>(tensor_->bytes); }

std::string GgufPackedWeight::format() const { return io::ggml_type_name(tensor_->type); }

std::string t5_gguf_key(const std::string& name) {
  static const std::pair<std::string, std::string> kWhole[] = {
      {"shared.weight", "token_embd.weight"},
      {"encoder.embed_tokens.weight", "token_embd.weight"},
      {"encoder.final_layer_norm.weight", "enc.output_norm.weight"},
  };
  for (const auto& [from, to] : kWhole)
    if (name == from) return to;
  // encoder.block.N.layer.L.<part>.weight
  static const std::regex kBlock(R"(encoder\.block\.(\d+)\.layer\.([01])\.(.+)\.weight)");
  static const std::pair<std::string, std::string> kParts[] = {
      {"0:SelfAttention.q", "attn_q"},
      {"0:SelfAttention.k", "attn_k"},
      {"0:SelfAttention.v", "attn_v"},
      {"0:SelfAttention.o", "attn_o"},
      {"0:SelfAttention.relative_attention_bias", "attn_rel_b"},
      {"0:layer_norm", "attn_norm"},
      {"1:DenseReluDense.wi_0", "ffn_gate"},
      {"1:DenseReluDense.wi_1", "ffn_up"},
      {"1:DenseReluDense.wi", "ffn_up"},
      {"1:DenseReluDense.wo", "ffn_down"},
      {"1:layer_norm", "ffn_norm"},
  };
  std::smatch m;
  if (!std::regex_match(name, m, kBlock)) return name;
  const std::string part = m[2].str() + ":" + m[3].str();
  for (const auto& [from, to] : kParts)
    if (part == from) return "enc.blk." + m[1].str() + "." + to + ".weight";
  return name;
}

}  // namespace dd::models
