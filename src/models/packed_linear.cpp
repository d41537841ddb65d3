#include "models/packed_linear.h"

#include "util/error.h"

namespace dd::models {

PackedLinearImpl::PackedLinearImpl(int64_t in_features, int64_t out_features, bool bias)
    : in_(in_features), out_(out_features) {
  weight = register_parameter("weight", torch::empty({out_features, in_features}));
  if (bias) this->bias = register_parameter("bias", torch::zeros({out_features}));
}

void PackedLinearImpl::set_packed(std::shared_ptr<const PackedWeight> packed) {
  if (packed->shape() != std::vector<int64_t>{out_, in_})
    throw Error("packed weight of shape " + c10::str(packed->shape()) + " for a linear layer of " +
                std::to_string(out_) + "x" + std::to_string(in_));
  packed_ = std::move(packed);
  torch::NoGradGuard no_grad;
  weight.set_data(torch::empty({0}, weight.options()));
}

torch::Tensor PackedLinearImpl::expanded_weight(torch::ScalarType dtype) const {
  if (packed_) return packed_->expand(dtype);
  return weight.scalar_type() == dtype ? weight : weight.to(dtype);
}

torch::Tensor PackedLinearImpl::forward(const torch::Tensor& x) {
  const auto dtype = x.scalar_type();
  torch::Tensor b = bias.defined() ? (bias.scalar_type() == dtype ? bias : bias.to(dtype)) : bias;
  torch::Tensor w = expanded_weight(dtype);
  // Packed weights expand on the CPU, where their mapping is; the layer may run elsewhere.
  if (w.device() != x.device()) w = w.to(x.device());
  return torch::linear(x, w, b);
}

}  // namespace dd::models
