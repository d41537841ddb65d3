#pragma once
// Random weights for the FLUX benchmark, written straight into a built module in the form a
// release stores them: bf16, float8_e4m3fn, or GGUF's Q8_0 / Q4_K blocks (random codes with
// small random fp16 scales). Weight values do not change the speed of a forward pass, and
// building in memory needs neither a 24 GB download nor a quantiser.
//
// The modules are built outside any BuildDtypeScope, so each PackedLinear's float32 placeholder
// is a torch::empty that is never touched (never resident); it is replaced before anything is
// written, one layer at a time, so no float32 copy of a big matrix ever exists.
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>

#include "io/gguf_blocks.h"
#include "models/packed_linear.h"

namespace dd::bench {

enum class WeightFormat { BF16, FP8, Q8_0, Q4_K };

// "bf16", "fp8", "q8_0", "q4_k" (a dd::Error otherwise).
WeightFormat weight_format(const std::string& name);
std::string weight_format_name(WeightFormat format);

// A block-quantised weight held in memory as its GGUF bytes (a uint8 tensor), expanded with
// io::dequantize_tensor.
class BlockWeight : public models::PackedWeight {
 public:
  BlockWeight(io::GgmlType type, torch::Tensor bytes, std::vector<int64_t> shape);
  torch::Tensor expand(torch::ScalarType dtype) const override;
  std::vector<int64_t> shape() const override { return shape_; }
  int64_t stored_bytes() const override { return bytes_.numel(); }
  std::string format() const override { return io::ggml_type_name(type_); }

 private:
  io::GgmlType type_;
  torch::Tensor bytes_;
  std::vector<int64_t> shape_;
};

// Gives every PackedLinear inside `module` a random weight in `format` (a GGUF format falls back
// to bf16 for a layer whose rows are not whole blocks, as GGUF files keep such layers
// unquantised) and the other parameters (biases, norm scales, T5's embedding table) random
// values in bf16 — or in fp8 for the 2-D tables when `format` is fp8.
struct WeightSummary {
  int64_t linear_layers = 0;
  int64_t converted_layers = 0;  // stored in another form than the activations' bf16
  int64_t bytes = 0;             // every parameter as stored
};
WeightSummary randomize_weights(torch::nn::Module& module, WeightFormat format);

// Expands every PackedLinear weight inside `module` once to `dtype` and drops it: what a forward
// pass spends on expansion. Layers whose weight already is `dtype` cost nothing.
void expand_all(torch::nn::Module& module, torch::ScalarType dtype);

}  // namespace dd::bench
