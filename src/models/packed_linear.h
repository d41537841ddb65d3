#pragma once
// A Linear layer whose weight stays in the form the checkpoint stores it (bfloat16, float16,
// float8, or a block-quantised format such as GGUF's Q8_0/Q4_K) and is expanded to the
// activation's dtype for each call. FLUX's transformer is 12 B parameters: 24 GB in bf16, more
// than the machine holds, 12 GB in fp8 and ~7 GB in Q4_K; only one layer's expanded weight
// exists at a time.
//
// Parameter names are Linear's (`weight`, `bias`), so load_weights() fills it like any Linear.
// A block-quantised weight is attached with set_packed(); `weight` then stays an empty
// placeholder that load_weights() skips.
#include <torch/torch.h>

#include <memory>

namespace dd::models {

// A weight in a block-quantised form, expanded on demand. Implemented by the formats (GGUF).
class PackedWeight {
 public:
  virtual ~PackedWeight() = default;
  // [out, in] in `dtype` (the values the format defines, rounded once to `dtype`).
  virtual torch::Tensor expand(torch::ScalarType dtype) const = 0;
  virtual std::vector<int64_t> shape() const = 0;
  virtual int64_t stored_bytes() const = 0;
  virtual std::string format() const = 0;  // "Q8_0", "Q4_K", ...
};

class PackedLinearImpl : public torch::nn::Module {
 public:
  PackedLinearImpl(int64_t in_features, int64_t out_features, bool bias = true);
  // x [..., in] -> [..., out], computed in x's dtype.
  torch::Tensor forward(const torch::Tensor& x);

  // Replaces the weight by a block-quantised one of shape [out, in] (a dd::Error otherwise).
  void set_packed(std::shared_ptr<const PackedWeight> packed);
  bool is_packed() const { return packed_ != nullptr; }
  // The weight as the forward pass uses it, in `dtype`.
  torch::Tensor expanded_weight(torch::ScalarType dtype) const;
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }

  torch::Tensor weight, bias;

 private:
  int64_t in_, out_;
  std::shared_ptr<const PackedWeight> packed_;
};
TORCH_MODULE(PackedLinear);

}  // namespace dd::models
