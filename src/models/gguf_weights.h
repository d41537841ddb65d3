#pragma once
// Weights from a GGUF file: the quantised FLUX transformer releases (BFL names such as
// `double_blocks.0.img_attn.qkv.weight`) and llama.cpp's T5 encoder files. get() expands any
// tensor to float32; packed() hands out the block-quantised matrices as PackedWeights that keep
// the file mapped and expand per call, so that load_weights() leaves them quantised in memory
// inside PackedLinear layers.
#include <memory>
#include <string>

#include "io/gguf.h"
#include "models/packed_linear.h"
#include "models/weights.h"

namespace dd::models {

class GgufWeights : public WeightSource {
 public:
  GgufWeights(std::shared_ptr<const io::GgufFile> file, std::string prefix = "",
              KeyRename rename = nullptr);
  // Float32 in the PyTorch shape (the reverse of ggml's ne, or the shape the file records in
  // `comfy.gguf.orig_shape.<key>` for tensors the converter reshaped).
  torch::Tensor get(const std::string& name) const override;
  bool has(const std::string& name) const override;
  // A block-quantised (not F32/F16/BF16) 2-D tensor as a PackedWeight; nullptr otherwise.
  std::shared_ptr<const PackedWeight> packed(const std::string& name) const override;
  void release_pages() const override;
  std::string stored_key(const std::string& name) const;
  const io::GgufFile& file() const { return *file_; }

 private:
  std::vector<int64_t> shape_of(const io::GgufTensor& tensor) const;

  std::shared_ptr<const io::GgufFile> file_;
  std::string prefix_;
  KeyRename rename_;
};

// A quantised [out, in] matrix in a GGUF file, expanded on demand. Holds the file (mapping).
class GgufPackedWeight : public PackedWeight {
 public:
  GgufPackedWeight(std::shared_ptr<const io::GgufFile> file, const io::GgufTensor& tensor);
  torch::Tensor expand(torch::ScalarType dtype) const override;
  std::vector<int64_t> shape() const override;
  int64_t stored_bytes() const override;
  std::string format() const override;

 private:
  std::shared_ptr<const io::GgufFile> file_;
  const io::GgufTensor* tensor_;  // owned by file_
};

// llama.cpp's T5 GGUF names for transformers' T5 encoder names (a KeyRename for GgufWeights):
// `shared.weight` and `encoder.embed_tokens.weight` -> `token_embd.weight`,
// `encoder.block.N.layer.0.SelfAttention.q.weight` -> `enc.blk.N.attn_q.weight` (k, v, o),
// `...relative_attention_bias.weight` -> `enc.blk.N.attn_rel_b.weight`,
// `encoder.block.N.layer.0.layer_norm.weight` -> `enc.blk.N.attn_norm.weight`,
// `encoder.block.N.layer.1.DenseReluDense.wi_0/wi_1/wi/wo.weight` -> `enc.blk.N.ffn_gate/ffn_up/
// ffn_up/ffn_down.weight`, `encoder.block.N.layer.1.layer_norm.weight` ->
// `enc.blk.N.ffn_norm.weight`, `encoder.final_layer_norm.weight` -> `enc.output_norm.weight`. Other
// names are kept.
std::string t5_gguf_key(const std::string& name);

}  // namespace dd::models
